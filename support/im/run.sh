#!/usr/bin/env bash
# Runs a real Infrastructure Manager (IM, grycap/im) in Docker for Krake's infrastructure controller, with
# IM's default configuration: REST API on container port 8800, data in an SQLite file inside the container
# (or in --data DIR), no user list (IM accepts any username/password pair; the pair owns the
# infrastructures created with it).
set -euo pipefail

IM_PORT=8800 # IM's REST_PORT in its default im.cfg
LABEL=org.krake.support=im

usage() {
  cat <<'EOF'
Usage: support/im/run.sh [options]

Starts the IM container (ghcr.io/grycap/im) and prints the `rok infra provider register` command for it.

Options:
  --port PORT         host port for IM's REST API (default 8800)
  --bind ADDR         host address the port is published on (default 127.0.0.1; 0.0.0.0 exposes IM,
                      which in its default configuration accepts any user, to the network)
  --name NAME         container name (default krake-im)
  --image IMAGE       image (default ghcr.io/grycap/im; pin a tag for repeatable runs)
  --data DIR          keep IM's database in DIR (mounted at /db, IM_DATA_DB=/db/inf.dat); without it
                      the data lives in the container and is lost when it is removed
  --username USER     username shown in the register command (default krake)
  --password PASS     password shown in the register command (default krake)
  -d, --detach        run in the background and wait until IM answers (default)
  -f, --foreground    run attached to this terminal; Ctrl-C stops and removes the container
  --ready-timeout S   seconds to wait for IM to answer GET /version when detached (default 120)
  --stop              stop and remove the container started by this script, then exit
  -h, --help          this text

Exit status: 0 success, 1 IM failed or did not answer, 2 usage error, 3 docker is not installed,
4 the Docker daemon is not reachable.
EOF
}

die_usage() {
  printf 'run.sh: %s\n(see support/im/run.sh --help)\n' "$1" >&2
  exit 2
}

port=8800
bind=127.0.0.1
name=krake-im
image=ghcr.io/grycap/im
data=
username=krake
password=krake
mode=detach
ready_timeout=120

while (($# > 0)); do
  case $1 in
    --port | --bind | --name | --image | --data | --username | --password | --ready-timeout)
      (($# >= 2)) || die_usage "$1 needs a value"
      case $1 in
        --port) port=$2 ;;
        --bind) bind=$2 ;;
        --name) name=$2 ;;
        --image) image=$2 ;;
        --data) data=$2 ;;
        --username) username=$2 ;;
        --password) password=$2 ;;
        --ready-timeout) ready_timeout=$2 ;;
      esac
      shift 2
      ;;
    --*=*) set -- "${1%%=*}" "${1#*=}" "${@:2}" ;;
    -d | --detach)
      mode=detach
      shift
      ;;
    -f | --foreground)
      mode=foreground
      shift
      ;;
    --stop)
      mode=stop
      shift
      ;;
    -h | --help)
      usage
      exit 0
      ;;
    *) die_usage "unknown argument '$1'" ;;
  esac
done

if ! [[ $port =~ ^[0-9]+$ ]] || ((port < 1 || port > 65535)); then
  die_usage "--port must be a port number, got '$port'"
fi
[[ $name =~ ^[a-zA-Z0-9][a-zA-Z0-9_.-]*$ ]] || die_usage "--name must be a valid container name, got '$name'"
[[ $ready_timeout =~ ^[0-9]+$ ]] || die_usage "--ready-timeout must be a number of seconds, got '$ready_timeout'"
[[ -n $bind && -n $image ]] || die_usage "--bind and --image must not be empty"

# printf, a builtin: this message must come out even on a PATH with nothing on it.
if ! command -v docker >/dev/null 2>&1; then
  printf '%s\n' \
    'run.sh: docker is not installed (no docker on PATH).' \
    'This script runs IM as a container. Install Docker Engine (https://docs.docker.com/engine/install/),' \
    'or run IM another way (see support/im/README.md) and register it with: rok infra provider register' >&2
  exit 3
fi

# `docker info` fails fast when the daemon is down or the socket is not ours to use; its own message says
# which, so it is shown as is.
if command -v timeout >/dev/null 2>&1; then info_cmd=(timeout 30 docker info); else info_cmd=(docker info); fi
if ! info_out=$("${info_cmd[@]}" --format '{{.ServerVersion}}' 2>&1); then
  {
    echo "run.sh: the Docker daemon is not reachable:"
    printf '%s\n' "$info_out" | sed '/^[[:space:]]*$/d; s/^/  /'
    echo "Start it (e.g. sudo systemctl start docker), or if it runs, make sure you may use its socket"
    echo "(membership in the docker group, or run this script with sudo); DOCKER_HOST=${DOCKER_HOST:-<unset>}."
  } >&2
  exit 4
fi

# Only containers this script created are stopped or replaced; anything else with the name is left alone.
container_state() { docker inspect --format '{{.State.Status}} {{index .Config.Labels "org.krake.support"}}' "$1" 2>/dev/null; }

if [[ $mode == stop ]]; then
  state=$(container_state "$name" || true)
  if [[ -z $state ]]; then
    echo "run.sh: no container named $name; nothing to stop"
    exit 0
  fi
  if [[ $state != *" im" ]]; then
    echo "run.sh: container $name was not started by this script; not touching it" >&2
    exit 1
  fi
  docker stop "$name" >/dev/null 2>&1 || true
  docker rm -f "$name" >/dev/null
  echo "run.sh: stopped and removed $name"
  exit 0
fi

url_host=$bind
[[ $bind == 0.0.0.0 ]] && url_host=127.0.0.1
if [[ $url_host == *:* && $url_host != \[* ]]; then url_host="[$url_host]"; fi
url="http://$url_host:$port"

print_register() {
  cat <<EOF
Register it with Krake (IM's default configuration accepts any username/password pair):
  rok infra provider register --type im --url $url --username $(printf %q "$username") --password $(printf %q "$password") im-provider
Then add a cloud that uses it, e.g.:
  rok infra cloud register --type openstack --url https://keystone:5000/v3 --project p --username u --password pw --infra-provider im-provider os-cloud
Stop IM with: support/im/run.sh --stop${name:+ --name $name}
EOF
}

state=$(container_state "$name" || true)
if [[ -n $state ]]; then
  if [[ $state != *" im" ]]; then
    echo "run.sh: a container named $name exists and was not started by this script; choose --name" >&2
    exit 1
  fi
  if [[ $state == "running "* ]]; then
    # Its address is the one it was started with, which may not be this run's --port.
    published=$(docker port "$name" "$IM_PORT/tcp" 2>/dev/null | head -n 1 || true)
    if [[ -n $published ]]; then
      published_host=${published%:*}
      [[ $published_host == 0.0.0.0 || $published_host == "[::]" ]] && published_host=127.0.0.1
      url="http://$published_host:${published##*:}"
    fi
    echo "run.sh: $name is already running on $url"
    print_register
    exit 0
  fi
  # A stopped leftover of an earlier run: its log was useful then, its name is in the way now.
  docker rm -f "$name" >/dev/null
fi

run_args=(--name "$name" --label "$LABEL" --init -p "$bind:$port:$IM_PORT")
if [[ -n $data ]]; then
  mkdir -p "$data"
  data=$(cd "$data" && pwd)
  run_args+=(-v "$data:/db" -e IM_DATA_DB=/db/inf.dat)
fi

if [[ $mode == foreground ]]; then
  echo "run.sh: starting IM ($image) on $url in the foreground; Ctrl-C stops it"
  print_register
  exec docker run --rm "${run_args[@]}" "$image"
fi

echo "run.sh: starting IM ($image) on $url"
docker run -d "${run_args[@]}" "$image" >/dev/null

# GET /version answers once IM's REST server is up; IM_DATA_DB errors and the like end the container first.
version_of() {
  if command -v curl >/dev/null 2>&1; then
    curl -fsS --max-time 3 "$url/version" 2>/dev/null
  else
    # Without curl: bash's /dev/tcp, HTTP/1.0 so that the server closes the connection after answering.
    # A fixed fd rather than {fd}, which macOS's bash 3.2 lacks.
    local line body=
    { exec 3<>"/dev/tcp/${url_host//[\[\]]/}/$port"; } 2>/dev/null || return 1
    { printf 'GET /version HTTP/1.0\r\nHost: %s:%s\r\n\r\n' "$url_host" "$port" >&3; } 2>/dev/null
    while IFS= read -r -t 3 line <&3; do body+=$line$'\n'; done
    exec 3>&-
    [[ $body == "HTTP/1."?" 200"* ]] || return 1
    printf '%s' "${body##*$'\r\n\r\n'}"
  fi
}

deadline=$((SECONDS + ready_timeout))
until version=$(version_of); do
  state=$(container_state "$name" || true)
  if [[ $state != "running "* ]]; then
    echo "run.sh: the IM container stopped (${state%% *}); its last log lines:" >&2
    docker logs --tail 30 "$name" >&2 || true
    exit 1
  fi
  if ((SECONDS >= deadline)); then
    echo "run.sh: IM did not answer $url/version within ${ready_timeout}s; see: docker logs $name" >&2
    exit 1
  fi
  sleep 1
done

echo "run.sh: IM is up on $url: $version"
print_register
