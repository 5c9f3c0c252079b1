#!/usr/bin/env bash
# A throwaway single-node Slurm cluster with slurmrestd, from Debian's packages (as root):
#   scripts/slurm.sh start DIR   starts munge, slurmctld, slurmd and slurmrestd with state in
#                                DIR and prints one `export …=…` line per setting that points an
#                                Anneal server (and scontrol/squeue/sbatch in that shell) at it
#   scripts/slurm.sh stop DIR    stops what start started (by pid, never by name) and removes DIR
# Recipe: ../shared/notes/slurm.md (proctrack/linuxproc and task/none: no cgroups needed).
set -euo pipefail
cmd="${1:?start|stop}"; dir="${2:?directory}"
port_ctl=16817; port_d=16818; port_rest=16820
case "$cmd" in
  start)
    [[ $(id -u) -eq 0 ]] || { echo "slurm.sh needs root (slurmd runs jobs as their user)" >&2; exit 1; }
    for b in slurmctld slurmd slurmrestd munged scontrol; do
      command -v "$b" >/dev/null || { echo "$b missing: apt-get install slurmctld slurmd slurmrestd munge slurm-client" >&2; exit 1; }
    done
    mkdir -p "$dir"/{state,spool,log,munge}
    chmod 755 "$dir"
    host=$(hostname -s)
    # munge: the daemon every Slurm call authenticates through.
    if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
      [[ -f /etc/munge/munge.key ]] || mungekey -c -f -k /etc/munge/munge.key
      chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key
      mkdir -p /run/munge /var/lib/munge /var/log/munge && chown munge:munge /run/munge /var/lib/munge /var/log/munge
      su -s /bin/sh munge -c "/usr/sbin/munged --pid-file=/run/munge/munged.pid" 
      echo munge > "$dir/started-munge"
    fi
    head -c 32 /dev/urandom > "$dir/jwt.key"; chmod 600 "$dir/jwt.key"
    mem=$(awk '/MemAvailable/ { printf "%d", $2 / 1024 * 0.8 }' /proc/meminfo)
    cat > "$dir/slurm.conf" <<CONF
ClusterName=anneal
SlurmctldHost=$host
SlurmUser=root
SlurmctldPort=$port_ctl
SlurmdPort=$port_d
AuthType=auth/munge
AuthAltTypes=auth/jwt
AuthAltParameters=jwt_key=$dir/jwt.key
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
MpiDefault=none
SwitchType=switch/none
JobAcctGatherType=jobacct_gather/none
KillWait=5
NodeName=$host CPUs=$(nproc) RealMemory=$mem State=UNKNOWN
PartitionName=main Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
    export SLURM_CONF="$dir/slurm.conf"
    slurmctld -f "$SLURM_CONF"
    slurmd -f "$SLURM_CONF"
    for _ in $(seq 1 50); do sinfo -h -o %T 2>/dev/null | grep -q idle && break; sleep 0.2; done
    sinfo -h -o %T | grep -q idle || { echo "the node never became idle; see $dir/log" >&2; exit 1; }
    # slurmrestd refuses root: it runs as nobody, reading the config and key it needs.
    chmod 644 "$dir/slurm.conf"; chown nobody "$dir/jwt.key"
    SLURM_JWT=daemon SLURM_CONF="$SLURM_CONF" setsid runuser -u nobody -- \
      slurmrestd -a rest_auth/jwt -s openapi/v0.0.38 "127.0.0.1:$port_rest" >"$dir/log/slurmrestd.log" 2>&1 &
    echo $! > "$dir/slurmrestd.pid"
    token=$(scontrol token username=root lifespan=86400 | sed -n 's/^SLURM_JWT=//p')
    for _ in $(seq 1 50); do
      curl -fsS -H "X-SLURM-USER-NAME: root" -H "X-SLURM-USER-TOKEN: $token" \
        "http://127.0.0.1:$port_rest/slurm/v0.0.38/ping" >/dev/null 2>&1 && break
      sleep 0.2
    done
    echo "export SLURM_CONF=$SLURM_CONF"
    echo "export ANNEAL_EXECUTOR=slurm"
    echo "export ANNEAL_SLURM_URL=http://127.0.0.1:$port_rest"
    echo "export ANNEAL_SLURM_API=v0.0.38"
    echo "export ANNEAL_SLURM_USER=root"
    echo "export ANNEAL_SLURM_TOKEN=$token"
    echo "export ANNEAL_SLURM_PARTITION=main"
    ;;
  stop)
    # Jobs first: a job's slurmstepd outlives the daemons that started it.
    [[ -f "$dir/slurm.conf" ]] && SLURM_CONF="$dir/slurm.conf" scancel --full --user="$(id -un)" 2>/dev/null || true
    sleep 1
    for f in slurmrestd slurmd slurmctld; do
      [[ -f "$dir/$f.pid" ]] && kill "$(cat "$dir/$f.pid")" 2>/dev/null || true
    done
    [[ -f "$dir/started-munge" && -f /run/munge/munged.pid ]] && kill "$(cat /run/munge/munged.pid)" 2>/dev/null || true
    sleep 0.5
    rm -rf "$dir"
    ;;
esac
