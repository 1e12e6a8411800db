# Sourced by path.sh and tools/test.sh. glibc's malloc trims and unmaps freed memory so eagerly that
# PyTorch on the CPU spends much of its time in page faults; these settings keep freed memory for reuse.
# bench/ measures the effect (see README). Set ASC_KEEP_MALLOC=1 to leave the allocator alone.
if [ -z "${ASC_KEEP_MALLOC:-}" ]; then
  export MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=68719476736 MALLOC_TOP_PAD_=1073741824
fi
