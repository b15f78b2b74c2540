#!/usr/bin/env bash
# Starts the local services the database and broker tests talk to, each only
# if its port does not answer (idempotent): PostgreSQL 5432, MariaDB 3306,
# Redis 6379, RabbitMQ 5672, Mosquitto 1883, NATS with JetStream 4222.
# The start commands are the machine's (see the env notes); a service that
# cannot be started is reported, and its tests fail under CI=true.
set -uo pipefail

up() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_up() {
    local name=$1 port=$2
    for _ in $(seq 1 60); do
        up "$port" && return 0
        sleep 1
    done
    echo "scripts/services.sh: $name did not come up on port $port" >&2
    return 1
}

start() {
    local name=$1 port=$2
    shift 2
    if up "$port"; then
        return 0
    fi
    echo "scripts/services.sh: starting $name (port $port)"
    "$@" >/dev/null 2>&1 || echo "scripts/services.sh: starting $name failed: $*" >&2
    wait_up "$name" "$port"
}

if [ "$(id -u)" != 0 ]; then
    echo "scripts/services.sh: not root; services that are down stay down" >&2
fi

start PostgreSQL 5432 sh -c 'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start'
start MariaDB 3306 start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
start Redis 6379 redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log
start RabbitMQ 5672 rabbitmq-server -detached
start Mosquitto 1883 mosquitto -d -c /etc/mosquitto/mosquitto.conf
# NATS: not `start-stop-daemon --oknodo --exec`, which takes any running
# nats-server (the fleet tests start their own, on other ports) for this
# one and then starts nothing.
start NATS 4222 sh -c 'setsid /usr/sbin/nats-server -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log </dev/null >/dev/null 2>&1 &'

exit 0
