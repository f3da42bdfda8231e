#!/usr/bin/env bash
# A single-node Slurm cluster on this machine, for the project's Slurm test:
#   scripts/slurm-cluster.sh install   apt-get install slurm-wlm munge (when missing)
#   scripts/slurm-cluster.sh start     munge key, munged, slurm.conf, slurmctld, slurmd
#   scripts/slurm-cluster.sh stop      stop the daemons started here
#   scripts/slurm-cluster.sh tools     where it finds each program it runs
# This host is both the controller and the one node; state, spool, logs and pid files
# live under $SLURM_TEST_DIR (default /tmp/scalefree-slurm). Needs root.
set -euo pipefail
# The daemons (munged, slurmctld, slurmd) and runuser live in sbin folders, which a
# minimal PATH (env -i, cron, sudo's secure_path elsewhere, a container's default) leaves out.
PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin
export PATH
DIR=${SLURM_TEST_DIR:-/tmp/scalefree-slurm}
CONF=/etc/slurm/slurm.conf

install() {
    if command -v sbatch >/dev/null && command -v slurmctld >/dev/null && command -v munged >/dev/null; then
        return
    fi
    if [ "$(id -u)" != 0 ]; then
        echo "error: Slurm is not installed and installing it needs root: apt-get install slurm-wlm munge" >&2
        exit 1
    fi
    echo "== installing slurm-wlm and munge"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq slurm-wlm munge >/dev/null
}

start() {
    install
    mkdir -p "$DIR"/{state,spool,log} /etc/slurm /run/munge /var/log/munge /var/lib/munge /etc/munge
    if [ ! -s /etc/munge/munge.key ]; then
        mungekey -c -f -k /etc/munge/munge.key
    fi
    chown -R munge:munge /etc/munge /run/munge /var/log/munge /var/lib/munge 2>/dev/null || true
    chmod 0700 /etc/munge /var/lib/munge /var/log/munge
    chmod 0755 /run/munge
    chmod 0600 /etc/munge/munge.key
    if ! pgrep -x munged >/dev/null; then
        runuser -u munge -- munged --force 2>/dev/null || munged --force
    fi
    local host cpus mem
    host=$(hostname -s)
    cpus=$(nproc)
    mem=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 1024 ))
    cat > "$CONF" <<CONF
ClusterName=scalefree-test
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
ReturnToService=2
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
NodeName=$host CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
    stop_daemons
    slurmctld -f "$CONF"
    slurmd -f "$CONF"
    for _ in $(seq 1 60); do
        if sinfo -h -o %t 2>/dev/null | grep -qE '^(idle|mix|alloc)'; then
            echo "slurm cluster up: $(sinfo -h -o '%P %D %t %c')"
            return
        fi
        sleep 0.5
    done
    echo "error: the Slurm node did not come up; logs in $DIR/log" >&2
    tail -n 20 "$DIR/log/"*.log >&2 || true
    exit 1
}

stop_daemons() {
    for pidfile in "$DIR/slurmd.pid" "$DIR/slurmctld.pid"; do
        if [ -s "$pidfile" ] && kill -0 "$(cat "$pidfile" 2>/dev/null)" 2>/dev/null; then
            kill "$(cat "$pidfile")" || true
            for _ in $(seq 1 40); do kill -0 "$(cat "$pidfile" 2>/dev/null)" 2>/dev/null || break; sleep 0.25; done
        fi
        rm -f "$pidfile"
    done
}

tools() {
    local tool
    for tool in munged mungekey slurmctld slurmd sinfo sbatch runuser; do
        echo "$tool $(command -v "$tool" || echo missing)"
    done
}

case "${1:-}" in
install) install ;;
start) start ;;
stop) stop_daemons ;;
tools) tools ;;
*) echo "usage: $0 install|start|stop|tools" >&2; exit 2 ;;
esac
