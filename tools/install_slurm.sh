#!/usr/bin/env bash
# Installs Debian's Slurm (slurm-wlm) and MUNGE where they are missing, for the real-Slurm test
# (tests/launch/test_slurm.py) and for trying the Slurm back end of utils/launch.sh on one machine.
# Needs root and apt-get; does nothing when slurmctld, slurmd, sbatch and munged are already there.
#
#   tools/install_slurm.sh
#
# It only installs: no daemon is configured or started here (tools/slurm_test_cluster.py does that,
# with all of its state in a folder of its own).
set -euo pipefail

export PATH=$PATH:/usr/sbin:/sbin   # the daemons live in sbin, which a user's PATH may lack
missing=()
for prog in slurmctld slurmd sbatch munged; do
  command -v "$prog" >/dev/null 2>&1 || missing+=("$prog")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "tools/install_slurm.sh: Slurm and MUNGE are installed"
  exit 0
fi
command -v apt-get >/dev/null 2>&1 \
  || { echo "tools/install_slurm.sh: ${missing[*]} missing and there is no apt-get to install them" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] \
  || { echo "tools/install_slurm.sh: ${missing[*]} missing; installing needs root (sudo $0)" >&2; exit 1; }

echo "tools/install_slurm.sh: installing slurm-wlm and munge (missing: ${missing[*]})"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
echo "tools/install_slurm.sh: ok, $(slurmd -V)"
