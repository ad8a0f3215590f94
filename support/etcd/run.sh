#!/usr/bin/env bash
# Runs etcd on this machine for `krake api --etcd`: one member, or a small cluster of members on one machine
# (--cluster 3) to try failover. Stays in the foreground; Ctrl-C (or SIGTERM) stops every member and waits
# for them to exit. For several machines see docs/deploy.md.
set -euo pipefail

if ((BASH_VERSINFO[0] < 4 || (BASH_VERSINFO[0] == 4 && BASH_VERSINFO[1] < 4))); then
  echo "run.sh: needs bash 4.4 or later (this is $BASH_VERSION)" >&2
  exit 1
fi

usage() {
  cat <<'EOF'
Usage: support/etcd/run.sh [options]

Starts etcd (the installed `etcd` binary, 3.4 or later) in the foreground, waits until every member
answers /health, and prints the `krake api --etcd ...` command to use. Ctrl-C stops it.

Options:
  --data-dir DIR      where etcd keeps its data (default ./etcd-data); with --cluster, one
                      subdirectory per member (DIR/etcd-1, DIR/etcd-2, ...)
  --port PORT         client port of the first member (default 2379)
  --peer-port PORT    peer port of the first member (default: client port + 1)
  --host ADDR         address to listen on and advertise (default 127.0.0.1)
  --cluster N         number of members, all on this machine: 1, 3 or 5 (default 1);
                      member i listens on the ports + (i-1) * port step (2379, 2479, 2579, ...)
  --port-step N       distance between the members' ports (default 100)
  --ready-timeout S   seconds to wait for every member to answer /health (default 60)
  --log-level LEVEL   etcd's log level: debug, info, warn or error (default warn)
  -h, --help          this text

Logs: one member logs to this terminal; with --cluster, member i logs to DIR/etcd-i.log.
Exit status: 0 stopped by Ctrl-C or SIGTERM, 1 etcd failed or did not become healthy,
2 usage error, 3 etcd is not installed.
EOF
}

die_usage() {
  printf 'run.sh: %s\n(see support/etcd/run.sh --help)\n' "$1" >&2
  exit 2
}

data_dir=./etcd-data
port=2379
peer_port=
host=127.0.0.1
members=1
port_step=100
ready_timeout=60
log_level=warn

while (($# > 0)); do
  case $1 in
    --data-dir | --port | --peer-port | --host | --cluster | --port-step | --ready-timeout | --log-level)
      (($# >= 2)) || die_usage "$1 needs a value"
      case $1 in
        --data-dir) data_dir=$2 ;;
        --port) port=$2 ;;
        --peer-port) peer_port=$2 ;;
        --host) host=$2 ;;
        --cluster) members=$2 ;;
        --port-step) port_step=$2 ;;
        --ready-timeout) ready_timeout=$2 ;;
        --log-level) log_level=$2 ;;
      esac
      shift 2
      ;;
    --*=*) set -- "${1%%=*}" "${1#*=}" "${@:2}" ;;
    -h | --help)
      usage
      exit 0
      ;;
    *) die_usage "unknown argument '$1'" ;;
  esac
done

is_port() { [[ $1 =~ ^[0-9]+$ ]] && (($1 >= 1 && $1 <= 65535)); }
is_port "$port" || die_usage "--port must be a port number, got '$port'"
[[ -z $peer_port ]] && peer_port=$((port + 1))
is_port "$peer_port" || die_usage "--peer-port must be a port number, got '$peer_port'"
[[ $members =~ ^(1|3|5)$ ]] || die_usage "--cluster must be 1, 3 or 5 (etcd needs an odd number of members), got '$members'"
if ! [[ $port_step =~ ^[0-9]+$ ]] || ((port_step < 2)); then
  die_usage "--port-step must be a number >= 2, got '$port_step'"
fi
[[ $ready_timeout =~ ^[0-9]+$ ]] || die_usage "--ready-timeout must be a number of seconds, got '$ready_timeout'"
[[ $log_level =~ ^(debug|info|warn|error)$ ]] || die_usage "--log-level must be debug, info, warn or error, got '$log_level'"
[[ -n $data_dir ]] || die_usage "--data-dir must not be empty"
# Advertised URLs must be addresses other members and clients can dial, which 0.0.0.0 is not.
[[ $host != 0.0.0.0 && $host != "::" && $host != "[::]" ]] ||
  die_usage "--host must be an address clients can connect to (it is also advertised), not $host"
if ! is_port $((port + (members - 1) * port_step)) || ! is_port $((peer_port + (members - 1) * port_step)); then
  die_usage "the last member's ports would be above 65535"
fi
if ((members > 1)); then
  for ((i = 0; i < members; i++)); do
    for ((j = 0; j < members; j++)); do
      ((port + i * port_step != peer_port + j * port_step)) ||
        die_usage "client and peer ports overlap: choose --peer-port or --port-step so that they differ"
    done
  done
elif ((port == peer_port)); then
  die_usage "--port and --peer-port must differ"
fi

# printf, a builtin: this message must come out even on a PATH with nothing on it.
if ! command -v etcd >/dev/null 2>&1; then
  printf '%s\n' \
    'run.sh: etcd is not installed (no etcd on PATH).' \
    'Install it, e.g. on Debian or Ubuntu:  sudo apt-get install etcd-server' \
    '(or put an etcd 3.4+ release binary on PATH), then run this script again.' >&2
  exit 3
fi

if [[ $host == *:* && $host != \[* ]]; then url_host="[$host]"; else url_host=$host; fi
dial_host=${url_host#[}
dial_host=${dial_host%]}

names=() client_urls=() peer_urls=() dirs=() logs=()
for ((i = 0; i < members; i++)); do
  names+=("etcd-$((i + 1))")
  client_urls+=("http://$url_host:$((port + i * port_step))")
  peer_urls+=("http://$url_host:$((peer_port + i * port_step))")
  if ((members == 1)); then
    dirs+=("$data_dir")
    logs+=(stderr)
  else
    dirs+=("$data_dir/etcd-$((i + 1))")
    logs+=("$data_dir/etcd-$((i + 1)).log")
  fi
done
initial_cluster=
for ((i = 0; i < members; i++)); do
  initial_cluster+="${initial_cluster:+,}${names[i]}=${peer_urls[i]}"
done

# A data dir remembers its cluster: reusing one member's dir for a cluster (or the reverse) would start
# members that disagree about who belongs.
if ((members == 1)) && [[ -d $data_dir/etcd-1 ]]; then
  echo "run.sh: $data_dir holds a --cluster run's data; use --cluster again or another --data-dir" >&2
  exit 1
fi
if ((members > 1)) && [[ -d $data_dir/member ]]; then
  echo "run.sh: $data_dir holds a single member's data; use another --data-dir for --cluster $members" >&2
  exit 1
fi

# Something already listening (often an etcd from an earlier run) would make etcd exit with a bind error
# that is easy to miss in the log.
port_in_use() { (exec 3<>"/dev/tcp/$dial_host/$1") 2>/dev/null; }
for ((i = 0; i < members; i++)); do
  for p in $((port + i * port_step)) $((peer_port + i * port_step)); do
    if port_in_use "$p"; then
      echo "run.sh: port $p on $host is already in use (another etcd?); stop it or choose --port/--peer-port" >&2
      exit 1
    fi
  done
done

# The body of GET http://host:port/path, over bash's /dev/tcp so that neither curl nor etcdctl is needed.
# HTTP/1.0: the server closes the connection after the answer, which ends the read loop.
http_get() {
  local fd line body=
  { exec {fd}<>"/dev/tcp/$dial_host/$1"; } 2>/dev/null || return 1
  { printf 'GET %s HTTP/1.0\r\nHost: %s:%s\r\n\r\n' "$2" "$url_host" "$1" >&"$fd"; } 2>/dev/null || {
    exec {fd}>&-
    return 1
  }
  while IFS= read -r -t 2 line <&"$fd"; do body+=$line$'\n'; done
  body+=$line
  exec {fd}>&-
  printf '%s' "$body"
}

pids=()
stopping=0
stop_member() {
  local pid=$1 t
  kill -TERM "$pid" 2>/dev/null || return 0
  # etcd stops within a second or two; one that hangs is killed after 10 s so that Ctrl-C always returns.
  for ((t = 0; t < 100; t++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
stop_members() {
  local i
  # One at a time, last started first: a leader that stops hands leadership over to a follower first, and
  # when that follower is stopping at the same moment, the hand-over only gives up after 7 seconds.
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do stop_member "${pids[i]}"; done
  pids=()
}
on_signal() {
  stopping=1
  trap - INT TERM HUP
  if ((members > 1)); then
    # Ctrl-C reaches every member at once; the leader then waits up to 7 s for a hand-over nobody takes.
    echo "run.sh: stopping etcd (a cluster can take several seconds)..." >&2
  else
    echo "run.sh: stopping etcd..." >&2
  fi
  stop_members
  echo "run.sh: etcd stopped; data kept in $data_dir" >&2
  exit 0
}
trap on_signal INT TERM HUP
# Any other way out (an error, a failed member) must not leave members behind.
trap 'stop_members' EXIT

show_log_tail() {
  local i=$1
  if [[ ${logs[i]} != stderr && -f ${logs[i]} ]]; then
    echo "--- last lines of ${logs[i]} ---" >&2
    tail -n 20 "${logs[i]}" >&2
  fi
}

echo "run.sh: $(etcd --version 2>/dev/null | head -n 1), $members member(s), data in $data_dir" >&2
mkdir -p "$data_dir"
for ((i = 0; i < members; i++)); do
  mkdir -p "${dirs[i]}"
  chmod 700 "${dirs[i]}"
  etcd \
    --name "${names[i]}" \
    --data-dir "${dirs[i]}" \
    --listen-client-urls "${client_urls[i]}" \
    --advertise-client-urls "${client_urls[i]}" \
    --listen-peer-urls "${peer_urls[i]}" \
    --initial-advertise-peer-urls "${peer_urls[i]}" \
    --initial-cluster "$initial_cluster" \
    --initial-cluster-token "krake-local-$members" \
    --initial-cluster-state new \
    --auto-compaction-mode periodic \
    --auto-compaction-retention 1h \
    --logger zap \
    --log-outputs "${logs[i]}" \
    --log-level "$log_level" &
  pids+=($!)
done

# Returns the index of a member that has exited, or fails when all are running.
exited_member() {
  local i
  for ((i = 0; i < ${#pids[@]}; i++)); do
    if ! kill -0 "${pids[i]}" 2>/dev/null; then
      echo "$i"
      return 0
    fi
  done
  return 1
}

deadline=$((SECONDS + ready_timeout))
for ((i = 0; i < members; i++)); do
  until [[ $(http_get $((port + i * port_step)) /health || true) == *'"health":"true"'* ]]; do
    if dead=$(exited_member); then
      wait "${pids[dead]}" && rc=0 || rc=$?
      echo "run.sh: etcd member ${names[dead]} exited with status $rc before it became healthy" >&2
      show_log_tail "$dead"
      exit 1
    fi
    if ((SECONDS >= deadline)); then
      echo "run.sh: etcd member ${names[i]} did not answer ${client_urls[i]}/health within ${ready_timeout}s" >&2
      show_log_tail "$i"
      exit 1
    fi
    sleep 0.2
  done
done

endpoints=$(
  IFS=,
  echo "${client_urls[*]}"
)
echo "etcd is ready: $endpoints ($members member(s), data in $data_dir)"
if ((members > 1)); then
  for ((i = 0; i < members; i++)); do
    echo "  ${names[i]}: ${client_urls[i]}, pid ${pids[i]}, log ${logs[i]}"
  done
fi
cat <<EOF

Run the API server on it (from the repository root, after npm ci):
  npx krake api --etcd $endpoints
Several API processes sharing the port, and a key prefix to share this etcd between installations:
  npx krake api --etcd $endpoints --workers 2 --etcd-prefix /krake

Ctrl-C stops etcd.
EOF

# `wait -n` returns when a member exits; a signal interrupts it and runs on_signal instead. In a cluster the
# others keep running, so that losing one member can be watched from the API server's side.
reported=()
while true; do
  wait -n && rc=0 || rc=$?
  ((stopping)) && exit 0
  running=0
  for ((i = 0; i < members; i++)); do
    if kill -0 "${pids[i]}" 2>/dev/null; then
      running=$((running + 1))
    elif [[ -z ${reported[i]:-} ]]; then
      reported[i]=1
      echo "run.sh: etcd member ${names[i]} exited (status $rc)" >&2
      show_log_tail "$i"
    fi
  done
  if ((running == 0)); then
    echo "run.sh: no etcd member is running any more" >&2
    exit 1
  fi
  echo "run.sh: $running of $members members still running; Ctrl-C stops them" >&2
done
