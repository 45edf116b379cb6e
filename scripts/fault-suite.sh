#!/usr/bin/env bash
# The fault suite's slow scenarios (tens of seconds each; the fast ones are tests/daemon/faults.rs):
# a real mosquitto on 127.0.0.1 killed, paused and restarted under a running daemon, the
# daemon started before its broker, SIGTERM / SIGKILL / SIGHUP, two daemons with one device
# name, a reader that goes away, an image source that can never produce a frame, and a
# serial port (pseudo-terminal) that disappears and comes back. Prints a pass/fail table;
# exits non-zero when a scenario fails.
#
#   scripts/fault-suite.sh            # every scenario (about 2 minutes)
#   scripts/fault-suite.sh kill pause # some of them
#
# Uses $EDGEPOSE_BIN or target/release/edgepose (built if missing); needs mosquitto and
# python3. Every process it starts is stopped by PID. $FAULT_SUITE_DAEMON_ARGS is appended to
# every daemon's arguments (`--set sinks.mqtt.max_age_ms=0` shows the outage without freshness).
set -uo pipefail
cd "$(dirname "$0")/.."
bin="${EDGEPOSE_BIN:-target/release/edgepose}"
[ -x "$bin" ] || cargo build --release --quiet || exit 1
command -v mosquitto >/dev/null || { echo "mosquitto is needed (apt-get install mosquitto)"; exit 1; }
work=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
results=()
record() { results+=("$(printf '%-38s %-5s %s' "$1" "$2" "$3")"); }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now_us() { date +%s%6N; }
broker_start() { # port -> sets broker_pid
    mosquitto -p "$1" >/dev/null 2>&1 & broker_pid=$!; pids+=("$broker_pid")
    for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done
    return 1
}
stamp() { while IFS= read -r line; do echo "$(now_us) $line"; done; }
daemon_start() { # name port device [extra args] -> sets daemon_pid; log in $work/name.log;
    # the JSON lines (stdout) with the time each was published in $work/name.pub
    local name=$1 port=$2 dev=$3; shift 3
    "$bin" run --set source.width=160 --set source.height=120 --set source.fps=10 \
        --set daemon.stats_interval_s=1 \
        --set "sinks.mqtt.url=\"mqtt://127.0.0.1:$port\"" --set "sinks.mqtt.device=\"$dev\"" \
        --set sinks.mqtt.keep_alive_s=2 --set sinks.mqtt.reconnect_max_ms=1000 "$@" \
        ${FAULT_SUITE_DAEMON_ARGS:-} \
        2>"$work/$name.log" > >(stamp >"$work/$name.pub") & daemon_pid=$!; pids+=("$daemon_pid")
}
listen_start() { # name port device -> frames (receive time, JSON) in $work/name.recv
    "$bin" listen --mqtt "mqtt://127.0.0.1:$2" --device "$3" --stats-interval 0 2>"$work/$1.listen.log" \
        > >(stamp >"$work/$1.recv") & listen_pid=$!
    pids+=("$listen_pid")
}
# Frames received after line $2 of $work/$1.recv: "<oldest age in ms> <count> <older than 1 s>",
# the age being receipt time minus the time the daemon published the frame (its JSON line).
max_age_after() {
    python3 - "$work/$1.pub" "$work/$1.recv" "$2" <<'PY'
import json, sys
def rows(path):
    for l in open(path):
        t, _, j = l.partition(" ")
        try: yield int(t), json.loads(j)
        except ValueError: pass
published = {f["seq"]: t for t, f in rows(sys.argv[1])}
ages = [(t - published[f["seq"]]) / 1000 for i, (t, f) in enumerate(rows(sys.argv[2]))
        if i >= int(sys.argv[3]) and f["seq"] in published]
print(f"{max(ages):.0f} {len(ages)} {sum(a > 1000 for a in ages)}" if ages else "none 0 0")
PY
}
lines() { wc -l <"$1" 2>/dev/null || echo 0; }
stop_pid() { kill -TERM "$1" 2>/dev/null; wait "$1" 2>/dev/null; }
want() { [ -z "$selected" ] || [[ " $selected " == *" $1 "* ]]; }
selected="$*"

if want kill; then # broker SIGKILLed for 10 s and restarted: no stale burst, frames resume
    port=$(free_port); broker_start "$port"; daemon_start kill "$port" killdev; listen_start kill "$port" killdev
    sleep 6; kill -KILL "$broker_pid"; sleep 10; broker_start "$port"
    before=$(lines "$work/kill.recv"); sleep 6
    read -r age n late < <(max_age_after kill "$before")
    alive=$(kill -0 "$daemon_pid" 2>/dev/null && echo yes || echo no)
    if [ "$alive" = yes ] && [ "$n" -gt 5 ] && [ "$late" -eq 0 ]; then
        record "broker killed 10 s, restarted" PASS "$n frames after restart, none late (oldest ${age} ms after publishing)"
    else
        record "broker killed 10 s, restarted" FAIL "daemon alive=$alive, $n frames, $late over 1 s late, oldest ${age} ms"
    fi
    stop_pid "$listen_pid"; stop_pid "$daemon_pid"; stop_pid "$broker_pid"
fi

if want pause; then # broker SIGSTOPped for 10 s, then SIGCONT
    port=$(free_port); broker_start "$port"; daemon_start pause "$port" pausedev; listen_start pause "$port" pausedev
    sleep 6; kill -STOP "$broker_pid"; sleep 10; before=$(lines "$work/pause.recv"); kill -CONT "$broker_pid"
    sleep 8
    # What the broker had already taken into its socket buffer before the daemon gave up on
    # it goes out when it resumes; the daemon's own queue holds nothing older than max_age.
    read -r age n late < <(max_age_after pause "$before")
    if kill -0 "$daemon_pid" 2>/dev/null && [ "$n" -gt 5 ]; then
        record "broker paused 10 s (SIGSTOP/CONT)" PASS "$n frames after resume; $late older than 1 s (broker's socket buffer), oldest ${age} ms"
    else
        record "broker paused 10 s (SIGSTOP/CONT)" FAIL "$n frames after resume"
    fi
    stop_pid "$listen_pid"; stop_pid "$daemon_pid"; kill -CONT "$broker_pid" 2>/dev/null; stop_pid "$broker_pid"
fi

if want down; then # broker down when the daemon starts
    port=$(free_port); daemon_start down "$port" downdev; sleep 5
    broker_start "$port"; listen_start down "$port" downdev; sleep 6
    n=$(lines "$work/down.recv")
    if kill -0 "$daemon_pid" 2>/dev/null && [ "$n" -gt 5 ]; then
        record "broker down at start" PASS "$n frames once it came up"
    else
        record "broker down at start" FAIL "$n frames"
    fi
    stop_pid "$listen_pid"; stop_pid "$daemon_pid"; stop_pid "$broker_pid"
fi

if want twins; then # two daemons, one device name, 15 s
    port=$(free_port); broker_start "$port"
    daemon_start twin1 "$port" twin; p1=$daemon_pid; daemon_start twin2 "$port" twin; p2=$daemon_pid
    sleep 15
    lost=$(cat "$work/twin1.log" "$work/twin2.log" | grep -c "reconnecting" || true)
    if [ "$lost" -eq 0 ] && kill -0 "$p1" 2>/dev/null && kill -0 "$p2" 2>/dev/null; then
        record "two daemons, same device name" PASS "0 reconnects in 15 s"
    else
        record "two daemons, same device name" FAIL "$lost connection-lost lines"
    fi
    stop_pid "$p1"; stop_pid "$p2"
    # The same fixed client id twice: the takeover is named in the log.
    daemon_start dup1 "$port" dup --set 'sinks.mqtt.client_id="fixed-id"'; p1=$daemon_pid
    daemon_start dup2 "$port" dup --set 'sinks.mqtt.client_id="fixed-id"'; p2=$daemon_pid
    sleep 12
    named=$(cat "$work/dup1.log" "$work/dup2.log" | grep -c "same client id" || true)
    total=$(cat "$work/dup1.log" "$work/dup2.log" | wc -l)
    if [ "$named" -ge 1 ] && [ "$total" -lt 100 ]; then
        record "two daemons, same fixed client id" PASS "takeover named in the log ($named lines, $total log lines in 12 s)"
    else
        record "two daemons, same fixed client id" FAIL "$named takeover lines, $total log lines"
    fi
    stop_pid "$p1"; stop_pid "$p2"; stop_pid "$broker_pid"
fi

if want signals; then # SIGHUP reloads and keeps going; SIGTERM: exit 0 within 2 s; SIGKILL: ends
    port=$(free_port); broker_start "$port"; daemon_start sigHUP "$port" sigHUP; sleep 5
    before=$(lines "$work/sigHUP.pub"); kill -HUP "$daemon_pid"; sleep 4
    after=$(lines "$work/sigHUP.pub")
    if kill -0 "$daemon_pid" 2>/dev/null && [ "$after" -gt "$before" ] && grep -q "reloading" "$work/sigHUP.log"; then
        record "SIGHUP" PASS "configuration reloaded, frames go on ($before -> $after)"
    else
        record "SIGHUP" FAIL "alive=$(kill -0 "$daemon_pid" 2>/dev/null && echo yes || echo no), frames $before -> $after"
    fi
    stop_pid "$daemon_pid"; stop_pid "$broker_pid"
    for sig in TERM KILL; do
        port=$(free_port); broker_start "$port"; daemon_start "sig$sig" "$port" "sig$sig"; sleep 5
        t0=$(now_us); kill "-$sig" "$daemon_pid"; wait "$daemon_pid"; rc=$?; t1=$(now_us)
        ms=$(( (t1 - t0) / 1000 ))
        sleep 0.2
        frames=$(lines "$work/sig$sig.pub")
        # Every line written is whole JSON (nothing torn by the signal).
        whole=$(python3 -c 'import json,sys; [json.loads(l.split(" ",1)[1]) for l in open(sys.argv[1])]; print("yes")' "$work/sig$sig.pub" 2>/dev/null || echo no)
        case $sig in
            TERM) ok=$([ "$rc" -eq 0 ] && [ "$ms" -lt 2000 ] && echo y) ;;
            *) ok=$([ "$ms" -lt 2000 ] && echo y) ;;
        esac
        if [ "${ok:-}" = y ] && [ "$whole" = yes ]; then
            record "SIG$sig" PASS "exit $rc after ${ms} ms, $frames whole JSON lines"
        else
            record "SIG$sig" FAIL "exit $rc after ${ms} ms, JSON whole=$whole"
        fi
        stop_pid "$broker_pid"
    done
fi

if want head; then # `edgepose run | head -1`
    t0=$(now_us)
    ( timeout 30 "$bin" run 2>"$work/head.log" | head -1 >/dev/null; echo "${PIPESTATUS[0]}" >"$work/head.rc" )
    ms=$(( ($(now_us) - t0) / 1000 )); rc=$(cat "$work/head.rc")
    n=$(grep -c "Broken pipe" "$work/head.log" || true)
    if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && [ "$n" -le 2 ]; then
        record "run | head -1" PASS "exit $rc after ${ms} ms, $n log line(s) about it"
    else
        record "run | head -1" FAIL "exit $rc after ${ms} ms, $n 'Broken pipe' lines"
    fi
fi

if want badimages; then # looped, unpaced directory of bad files
    mkdir -p "$work/bad"; printf 'x' >"$work/bad/a.jpg"; : >"$work/bad/b.png"; echo text >"$work/bad/c.jpg"
    t0=$(now_us)
    timeout 30 "$bin" run --set source.kind=images --set "source.path=\"$work/bad\"" \
        --set source.loop=true >/dev/null 2>"$work/bad.log"; rc=$?
    ms=$(( ($(now_us) - t0) / 1000 )); n=$(wc -l <"$work/bad.log"); bytes=$(wc -c <"$work/bad.log")
    if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && [ "$n" -lt 20 ]; then
        record "looped images, every file bad" PASS "exit $rc after ${ms} ms, $n log lines ($bytes bytes)"
    else
        record "looped images, every file bad" FAIL "exit $rc after ${ms} ms, $n log lines"
    fi
fi

if want serial; then # the serial port disappears for 3 s and comes back (pseudo-terminals)
    link="$work/ttyEDGE"
    python3 - "$link" "$work/serial.bytes" <<'PY' & pty_pid=$!
import os, pty, sys, time
link, out = sys.argv[1], sys.argv[2]
def open_pty():
    m, s = pty.openpty()
    if os.path.lexists(link): os.unlink(link)
    os.symlink(os.ttyname(s), link)
    os.set_blocking(m, False)
    return m, s
def drain(m, until, sink):
    while time.time() < until:
        try: sink += os.read(m, 65536)
        except (BlockingIOError, OSError): time.sleep(0.02)
    return sink
m, s = open_pty(); first = drain(m, time.time() + 8, b"")
os.close(m); os.close(s); os.unlink(link); time.sleep(3)      # unplugged
m, s = open_pty(); second = drain(m, time.time() + 8, b"")     # plugged back
open(out, "w").write(f"{first.count(0)} {second.count(0)}")
PY
    pids+=("$pty_pid"); sleep 1
    "$bin" run --set source.width=160 --set source.height=120 --set source.fps=10 \
        --set "sinks.serial.device=\"$link\"" --set sinks.serial.reopen_max_ms=500 \
        >/dev/null 2>"$work/serial.log" & daemon_pid=$!; pids+=("$daemon_pid")
    wait "$pty_pid"; read -r before after <"$work/serial.bytes"
    stop_pid "$daemon_pid"
    if [ "$before" -gt 2 ] && [ "$after" -gt 2 ]; then
        record "serial port gone 3 s and back" PASS "$before frame delimiters before, $after after"
    else
        record "serial port gone 3 s and back" FAIL "$before before, $after after"
    fi
fi

printf '%-38s %-5s %s\n' "scenario" "result" "details"
printf '%s\n' "${results[@]}"
! printf '%s\n' "${results[@]}" | grep -q " FAIL "
