#!/usr/bin/env bash
# A real one-node SLURM cluster (munge + slurmctld + slurmd) for tests, as in shared/platform/slurm.md.
#   tests/slurm/cluster.sh start <scratchdir>   install (if missing), start, wait until the node is idle
#   tests/slurm/cluster.sh stop  <scratchdir>   stop the daemons this script started, by their pids
# State, spool, logs, pid files and slurm.conf live under <scratchdir>; the ports are free ones picked at start.
# /etc/slurm/slurm.conf becomes a symlink to <scratchdir>/slurm.conf while the cluster runs (removed at stop):
# snakemake-executor-plugin-slurm-jobstep drops SLURM_CONF from the environment of the `srun` it runs inside each
# job, so srun only finds the configuration at its default path. Hence one test cluster per machine at a time.
# Exit status 3: the Debian packages are missing and cannot be installed (not root, no apt-get, apt failed).
# Exit status 4: /etc/slurm/slurm.conf belongs to something else (a real cluster, or another live test cluster).
set -euo pipefail

cmd=${1:?usage: cluster.sh start|stop <scratchdir>}
dir=$(realpath -m "${2:?usage: cluster.sh start|stop <scratchdir>}")
conf="$dir/slurm.conf"
etc_conf=/etc/slurm/slurm.conf

stop_pid() {  # stop_pid <pidfile> <name>: TERM, wait up to 15 s, then KILL; only the process the file names
    local file=$1 name=$2 pid i
    [[ -s $file ]] || return 0
    pid=$(<"$file")
    if [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for i in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        if kill -0 "$pid" 2>/dev/null; then
            echo "cluster.sh: $name ($pid) ignored SIGTERM; sending SIGKILL" >&2
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    rm -f "$file"
}

free_port() {
    python3 - <<'PY' 2>/dev/null || echo $((20000 + RANDOM % 20000))
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()
PY
}

install_packages() {
    local missing=0 b
    for b in munged mungekey slurmctld slurmd sbatch squeue sinfo; do
        command -v "$b" >/dev/null 2>&1 || [[ -x /usr/sbin/$b ]] || missing=1
    done
    ((missing)) || return 0
    if [[ $(id -u) != 0 ]]; then echo "cluster.sh: SLURM is not installed and we are not root" >&2; exit 3; fi
    if ! command -v apt-get >/dev/null; then echo "cluster.sh: SLURM is not installed and there is no apt-get" >&2; exit 3; fi
    echo "cluster.sh: installing munge slurmctld slurmd slurm-client" >&2
    if ! { DEBIAN_FRONTEND=noninteractive apt-get update -qq \
           && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
              munge slurmctld slurmd slurm-client; } >"${dir}/apt.log" 2>&1; then
        tail -20 "${dir}/apt.log" >&2
        echo "cluster.sh: apt-get could not install SLURM" >&2
        exit 3
    fi
}

start() {
    mkdir -p "$dir"/{state,spool,log,run}
    install_packages
    PATH=$PATH:/usr/sbin

    # /etc/slurm/slurm.conf: free, or a symlink left by a test cluster. A live one is another run's, unless the
    # caller holds the test lock (CLUSTER_TAKE_OVER=1): then it was left by a killed run, and is stopped here.
    if [[ -L $etc_conf ]]; then
        local other pid
        other=$(dirname "$(readlink "$etc_conf")")
        pid=$(cat "$other/run/slurmctld.pid" 2>/dev/null || true)
        if [[ $other != "$dir" && -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
            if [[ ${CLUSTER_TAKE_OVER:-0} != 1 ]]; then
                echo "cluster.sh: another test cluster is running ($other)" >&2; exit 4
            fi
            echo "cluster.sh: stopping the test cluster a killed run left in $other" >&2
            "$0" stop "$other"
        fi
        rm -f "$etc_conf"
    elif [[ -e $etc_conf ]]; then
        echo "cluster.sh: $etc_conf exists and is not a test cluster's; refusing to touch it" >&2; exit 4
    fi

    # munge: reuse a running munged; otherwise start one and remember its pid (stop only what we started).
    if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
        [[ -s /etc/munge/munge.key ]] || mungekey --create >/dev/null
        install -d -o munge -g munge -m 0755 /run/munge
        runuser -u munge -- /usr/sbin/munged --force
        for _ in $(seq 50); do [[ -s /run/munge/munged.pid ]] && break; sleep 0.1; done
        cp /run/munge/munged.pid "$dir/run/munged.pid"
        munge -n | unmunge >/dev/null
    fi

    local host cpus mem
    host=$(hostname -s)
    # Job slots: by default 4 per core (SlurmdParameters=config_overrides lets slurmd accept more CPUs than it
    # detects). A workflow job here spends most of its wall time starting Python and waiting, not computing; with
    # one slot per core, a 40-job test workflow on 2 cores queues for minutes. CLUSTER_CPUS=N overrides.
    cpus=${CLUSTER_CPUS:-$(( $(nproc) * 4 ))}
    mem=$(slurmd -C | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p')
    mem=$((mem * 9 / 10))   # below what slurmd detects, or the node is drained
    cat >"$conf" <<CONF
ClusterName=local
SlurmctldHost=${host}(127.0.0.1)
SlurmctldPort=$(free_port)
SlurmdPort=$(free_port)
SlurmUser=root
SlurmdUser=root
SlurmdParameters=config_overrides
AuthType=auth/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
ReturnToService=2
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/filetxt
JobCompLoc=$dir/log/jobcomp.txt
MinJobAge=300
NodeName=${host} NodeAddr=127.0.0.1 CPUs=${cpus} RealMemory=${mem} State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE DefMemPerCPU=1000 State=UP
CONF

    mkdir -p /etc/slurm
    ln -s "$conf" "$etc_conf"
    slurmctld -f "$conf"   # without -D both daemonize and write the pid files named in slurm.conf
    slurmd -f "$conf"
    local state=""
    for _ in $(seq 120); do
        state=$(sinfo -h -N -o %T 2>/dev/null | head -1 || true)
        [[ $state == idle ]] && break
        sleep 0.5
    done
    if [[ $state != idle ]]; then
        echo "cluster.sh: the node did not become idle (state: '${state}'); logs in $dir/log" >&2
        tail -5 "$dir"/log/*.log >&2 || true
        exit 1
    fi
    echo "cluster.sh: node idle; configuration $conf" >&2
}

stop() {
    # Cancel what is left in this cluster's queue (a run killed by its timeout), then stop the daemons.
    local pid
    pid=$(cat "$dir/run/slurmctld.pid" 2>/dev/null || true)
    if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null && [[ -L $etc_conf && $(readlink "$etc_conf") == "$conf" ]]; then
        timeout 10 scancel --user="$(id -un)" 2>/dev/null || true
        for _ in $(seq 30); do [[ -z $(timeout 5 squeue -h 2>/dev/null) ]] && break; sleep 0.5; done
    fi
    stop_pid "$dir/run/slurmd.pid" slurmd
    stop_pid "$dir/run/slurmctld.pid" slurmctld
    stop_pid "$dir/run/munged.pid" munged
    if [[ -L $etc_conf && $(readlink "$etc_conf") == "$conf" ]]; then rm -f "$etc_conf"; fi
}

case $cmd in
    start) start ;;
    stop) stop ;;
    *) echo "usage: cluster.sh start|stop <scratchdir>" >&2; exit 2 ;;
esac
