#!/usr/bin/env bash
# Run OpenStack's conformance suite, Tempest (Debian package `tempest`, 33), against Nimbus:
# start `node dist/src/cli.js serve` on a free loopback port with a temporary data directory,
# provision pre-provisioned accounts (2 admins, 4 members in 4 projects), a second image and
# a shared network, write a Tempest workspace (tempest.conf + accounts.yaml) with every
# feature Nimbus offers turned on, run `tempest.api.compute` minus tempest/exclude.txt with
# 2 workers, and print a summary.
# Exit status: 0 when every test that ran passed; 1 when a test failed, the run timed out or
# Nimbus died during it; 2 when the harness itself failed (Nimbus or Tempest not starting).
#   TEMPEST_REGEX     selection (default '^tempest\.api\.compute')
#   TEMPEST_TIMEOUT   bound on the tempest run (default 15m)
#   TEMPEST_KEEP=1    keep the workspace and Nimbus's data directory for inspection
set -uo pipefail

cd "$(dirname "$0")/.."
root=$PWD
PY=/usr/bin/python3   # Debian's Python: Tempest's modules live there, not in a pyenv first on PATH
TEMPEST=/usr/bin/tempest
regex=${TEMPEST_REGEX:-'^tempest\.api\.compute'}
timeout_spec=${TEMPEST_TIMEOUT:-15m}
export NIMBUS_ADMIN_PASSWORD=${NIMBUS_ADMIN_PASSWORD:-tempest-admin-secret}
export NIMBUS_DEMO_PASSWORD=${NIMBUS_DEMO_PASSWORD:-tempest-demo-secret}

die() { echo "tempest/run.sh: $*" >&2; exit 2; }
[ -x "$TEMPEST" ] || die "$TEMPEST not found (apt-get install tempest)"
[ -f dist/src/cli.js ] || die "dist/src/cli.js missing: run npm run build first"

work=$(mktemp -d "${TMPDIR:-/tmp}/nimbus-tempest.XXXXXX")
data=$work/nimbus-data
ws=$work/workspace
mkdir -p "$data" "$ws/etc"
nimbus_pid=""
cleanup() {
  if [ -n "$nimbus_pid" ] && kill -0 "$nimbus_pid" 2>/dev/null; then
    kill -TERM "$nimbus_pid" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$nimbus_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$nimbus_pid" 2>/dev/null
  fi
  if [ "${TEMPEST_KEEP:-}" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
# Tempest runs in the background so that a signal reaches this trap at once; timeout passes
# it on to Tempest's whole process group.
tempest_pid=""
on_signal() {
  [ -n "$tempest_pid" ] && kill -TERM "$tempest_pid" 2>/dev/null && wait "$tempest_pid" 2>/dev/null
  exit 130
}
trap on_signal INT TERM

port=$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
base=http://127.0.0.1:$port

# ── Nimbus ───────────────────────────────────────────────────────────────────────
NIMBUS_LISTEN=127.0.0.1:$port NIMBUS_DATA_DIR=$data NIMBUS_LOG_LEVEL=warn \
  node dist/src/cli.js serve >"$work/nimbus.log" 2>&1 </dev/null &
nimbus_pid=$!
for _ in $(seq 1 100); do
  grep -q 'Nimbus is listening' "$work/nimbus.log" 2>/dev/null && break
  kill -0 "$nimbus_pid" 2>/dev/null || break
  sleep 0.2
done
if ! grep -q 'Nimbus is listening' "$work/nimbus.log"; then
  cat "$work/nimbus.log" >&2
  die "Nimbus did not start"
fi
echo "Nimbus is listening on $base (pid $nimbus_pid, data $data)"

# ── accounts, images, tempest.conf ──────────────────────────────────────────────
ids=$("$PY" tempest/provision.py "$base" "$NIMBUS_ADMIN_PASSWORD" "$ws/etc") || die "provisioning accounts and images failed"
eval "$ids"
[ -n "${IMAGE_ID:-}" ] && [ -n "${IMAGE_ID_ALT:-}" ] || die "no image ids from provisioning"
[ -n "${FIXED_NETWORK:-}" ] || die "no shared network from provisioning"
[ "${COMPUTE_NODES:-0}" -ge 2 ] || die "Tempest's migration tests need at least 2 compute hosts, Nimbus has ${COMPUTE_NODES:-0}"

cat >"$ws/etc/tempest.conf" <<CONF
[DEFAULT]
log_file = $ws/tempest.log
debug = false

[auth]
use_dynamic_credentials = false
test_accounts_file = $ws/etc/accounts.yaml
default_credentials_domain_name = Default
create_isolated_networks = false
# The classes that force tenant isolation (the quota tests) get dynamic credentials made by
# this admin through the identity API.
admin_username = admin
admin_password = $NIMBUS_ADMIN_PASSWORD
admin_project_name = admin
admin_domain_name = Default

[identity]
uri_v3 = $base/identity/v3
auth_version = v3
region = RegionOne
disable_ssl_certificate_validation = true

[identity-feature-enabled]
api_v2 = false

[compute]
image_ref = $IMAGE_ID
image_ref_alt = $IMAGE_ID_ALT
flavor_ref = 1
flavor_ref_alt = 2
min_microversion = 2.1
max_microversion = latest
build_interval = 1
build_timeout = 120
shelved_offload_time = 0
min_compute_nodes = $COMPUTE_NODES
fixed_network_name = $FIXED_NETWORK
region = RegionOne

[compute-feature-enabled]
snapshot = true
resize = true
pause = true
suspend = true
shelve = true
shelve_migrate = true
rescue = true
stable_rescue = true
console_output = true
change_password = true
enable_instance_password = true
personality = true
disk_config = true
xenapi_apis = true
live_migration = true
cold_migration = true
block_migration_for_live_migration = true
can_migrate_between_any_hosts = true
vnc_console = true
spice_console = false
serial_console = true
nova_cert = false
interface_attach = true
attach_encrypted_volume = false
config_drive = true
metadata_service = true
hostname_fqdn_sanitization = true
scheduler_enabled_filters = AvailabilityZoneFilter,ComputeFilter,ComputeCapabilitiesFilter,ImagePropertiesFilter,ServerGroupAntiAffinityFilter,ServerGroupAffinityFilter,SameHostFilter,DifferentHostFilter

[image]
build_interval = 1
build_timeout = 120
region = RegionOne

[image-feature-enabled]
api_v1 = false
api_v2 = true

[network]
shared_physical_network = false
public_network_id = $PUBLIC_NETWORK_ID
floating_network_name = $PUBLIC_NETWORK_NAME

[network-feature-enabled]
api_extensions = $NETWORK_EXTENSIONS
floating_ips = true

[service_available]
nova = true
glance = true
neutron = true
cinder = false
swift = false
heat = false
horizon = false

[validation]
run_validation = false
CONF
# ── tempest run ─────────────────────────────────────────────────────────────────
echo "running: tempest run --regex '$regex' --exclude-list tempest/exclude.txt --concurrency 2 (bounded to $timeout_spec)"
started=$SECONDS
rc=0
(cd "$ws" && exec timeout --kill-after=30s "$timeout_spec" \
  "$PY" "$TEMPEST" run --config-file "$ws/etc/tempest.conf" --regex "$regex" --exclude-list "$root/tempest/exclude.txt" --concurrency 2 \
  >"$work/tempest-run.log" 2>&1 </dev/null) &
tempest_pid=$!
wait "$tempest_pid" || rc=$?
tempest_pid=""
wall=$((SECONDS - started))
status=0
case $rc in
  124|137) echo "tempest run timed out after $timeout_spec: the summary covers the tests that finished"; status=1 ;;
esac
(cd "$ws" && "$PY" -m stestr last --subunit >"$work/results.subunit" 2>/dev/null)
if [ ! -s "$work/results.subunit" ]; then
  tail -50 "$work/tempest-run.log" >&2
  die "tempest produced no results (exit $rc)"
fi
src=0
"$PY" tempest/summary.py "$work/results.subunit" tempest/exclude.txt "$wall" || src=$?
case $src in
  0) ;;
  1) status=1 ;;  # a test failed
  3) die "no test ran: is TEMPEST_REGEX right?" ;;
  *) die "could not summarise the results" ;;
esac
if ! kill -0 "$nimbus_pid" 2>/dev/null; then
  echo "Nimbus exited during the run:"; tail -20 "$work/nimbus.log"
  status=1
fi
exit $status
