#!/usr/bin/env bash
# Start a real one-node SLURM cluster on this machine (Debian's slurm-wlm + munge, no systemd, no network):
# a partition "debug" whose node declares one fake GPU (gres.conf File=/dev/null), as the SLURM test needs.
# Idempotent: exits at once when the node is already up. Exit 77: SLURM cannot be installed here (tests skip).
set -euo pipefail

CONF_DIR=/etc/slurm
HOST=$(hostname -s)
STATE=/var/spool/slurm-llhp

node_is_up() { sinfo -h -N -o '%T' 2>/dev/null | grep -Eq '^(idle|mixed|allocated)'; }

if command -v sinfo >/dev/null && node_is_up; then
    echo "slurm: node $HOST already up"
    exit 0
fi

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
        echo "slurm: slurm-wlm is not installed and cannot be (needs root and apt-get)" >&2
        exit 77
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q slurm-wlm munge >/dev/null 2>&1 \
        || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q slurm-wlm munge >/dev/null; } \
        || { echo "slurm: apt-get install slurm-wlm munge failed" >&2; exit 77; }
fi
if [ "$(id -u)" != 0 ]; then
    echo "slurm: starting the daemons needs root" >&2
    exit 77
fi

# munge: the authentication daemon, run as its own user
if [ ! -s /etc/munge/munge.key ]; then
    mungekey --create --keyfile=/etc/munge/munge.key 2>/dev/null \
        || dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=128 status=none
    chown munge:munge /etc/munge/munge.key
    chmod 600 /etc/munge/munge.key
fi
mkdir -p /run/munge /var/log/munge /var/lib/munge
chown munge:munge /run/munge /var/log/munge /var/lib/munge
if ! pgrep -x munged >/dev/null; then
    runuser -u munge -- /usr/sbin/munged
fi

# The node claims 16 CPUs whatever this machine has (SlurmdParameters=config_overrides), like a GPU node,
# so every job's CPUs (its threads) fit; the kernel shares the real cores.
CPUS=16
mkdir -p "$CONF_DIR" "$STATE/ctld" "$STATE/d" /var/log/slurm
cat >"$CONF_DIR/slurm.conf" <<CONF
# Written by tests/slurm/start_slurm.sh: a one-node test cluster.
ClusterName=llhp-test
SlurmctldHost=$HOST
SlurmUser=root
AuthType=auth/munge
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/d
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
ReturnToService=2
MinJobAge=300
GresTypes=gpu
NodeName=$HOST CPUs=$CPUS RealMemory=262144 Gres=gpu:1 State=UNKNOWN
PartitionName=debug Nodes=$HOST Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4
CONF
# The GPU is a name only: jobs that ask for it get CUDA_VISIBLE_DEVICES=0 and no device behind it.
echo "NodeName=$HOST Name=gpu File=/dev/null" >"$CONF_DIR/gres.conf"
rm -f "$CONF_DIR/cgroup.conf"  # no cgroups: proctrack/linuxproc and task/none

pgrep -x slurmctld >/dev/null || (setsid slurmctld -D >/var/log/slurm/slurmctld.out 2>&1 &)
for _ in $(seq 50); do scontrol ping >/dev/null 2>&1 && break; sleep 0.2; done
pgrep -x slurmd >/dev/null || (setsid slurmd -D >/var/log/slurm/slurmd.out 2>&1 &)
for _ in $(seq 100); do
    if node_is_up; then
        echo "slurm: node $HOST up (partition debug, $CPUS CPUs, gres gpu:1 on /dev/null)"
        exit 0
    fi
    sleep 0.2
done
echo "slurm: the node did not come up; see /var/log/slurm/" >&2
tail -n 20 /var/log/slurm/slurmctld.log /var/log/slurm/slurmd.log >&2 || true
exit 1
