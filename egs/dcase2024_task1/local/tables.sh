# The recipe's tables (sourced by run.sh and local/*.sh): their columns are DCASE2024 Task 1's five
# training splits whatever was trained (a missing split shows '–', and the mean over the splits present
# is starred: only the mean over all five is the ranking score).
table_splits="5 10 25 50 100"
