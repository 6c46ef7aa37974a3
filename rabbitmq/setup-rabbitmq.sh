#!/usr/bin/env bash
# Prepares a standalone RabbitMQ broker (one the operator does not manage) for Gorten:
# waits for the management API, creates or updates the admin user, gives it every
# permission on the target vhost, and declares the topology of topology.json there.
# Safe to run again: what already matches is left untouched. See rabbitmq/README.md.
set -euo pipefail

SCRIPT_NAME=$(basename "$0")
SCRIPT_DIR=$(cd "$(dirname "$0")" && pwd)

usage() {
  cat <<EOF
Usage: $SCRIPT_NAME [--help]

Prepares a standalone RabbitMQ broker through its management HTTP API:
  1. waits until the management API answers (up to WAIT_TIME seconds);
  2. creates the vhost if it is missing;
  3. creates or updates the admin user (tag administrator, full permissions on the vhost);
  4. declares the exchanges, queues and bindings of the topology file in the vhost.
Running it again changes nothing that already matches. An exchange or queue that
exists with other settings is reported as an error and left as it is.

Environment (defaults in brackets):
  RABBITMQ_HOST                 management API host [localhost]
  RABBITMQ_PORT                 management API port [15672]
  RABBITMQ_VHOST                vhost to prepare [/]
  RABBITMQ_USER                 admin user to create or update [rabbitmq_admin]
  RABBITMQ_PASSWORD             its password [my_password]
  RABBITMQ_BOOTSTRAP_USER       administrator that creates the admin user [guest]
  RABBITMQ_BOOTSTRAP_PASSWORD   its password [guest]
  RABBITMQ_TOPOLOGY_FILE        topology to declare [topology.json beside this script]
  WAIT_TIME                     seconds to wait for the management API [60]

It logs in as RABBITMQ_USER when that user already exists as an administrator with
RABBITMQ_PASSWORD, otherwise as the bootstrap user (whose password it then sets on
RABBITMQ_USER). Passwords are never printed. Needs bash, curl and jq.
EOF
}

fail() {
  echo "$SCRIPT_NAME: error: $*" >&2
  exit 1
}

info() {
  echo "$SCRIPT_NAME: $*"
}

case "${1-}" in
  -h | --help)
    usage
    exit 0
    ;;
  '') ;;
  *) fail "unknown argument '$1': run '$SCRIPT_NAME --help' for usage (settings come from environment variables)" ;;
esac

RABBITMQ_HOST=${RABBITMQ_HOST:-localhost}
RABBITMQ_PORT=${RABBITMQ_PORT:-15672}
RABBITMQ_VHOST=${RABBITMQ_VHOST:-/}
RABBITMQ_USER=${RABBITMQ_USER:-rabbitmq_admin}
RABBITMQ_PASSWORD=${RABBITMQ_PASSWORD:-my_password}
RABBITMQ_BOOTSTRAP_USER=${RABBITMQ_BOOTSTRAP_USER:-guest}
RABBITMQ_BOOTSTRAP_PASSWORD=${RABBITMQ_BOOTSTRAP_PASSWORD:-guest}
RABBITMQ_TOPOLOGY_FILE=${RABBITMQ_TOPOLOGY_FILE:-$SCRIPT_DIR/topology.json}
WAIT_TIME=${WAIT_TIME:-60}

command -v curl >/dev/null || fail "curl is required: install it (e.g. apt-get install curl)"
command -v jq >/dev/null || fail "jq is required to read the topology file: install it (e.g. apt-get install jq)"
[[ $WAIT_TIME =~ ^[0-9]+$ ]] || fail "WAIT_TIME must be a whole number of seconds (got '$WAIT_TIME')"
[[ $RABBITMQ_PORT =~ ^[0-9]+$ ]] || fail "RABBITMQ_PORT must be a port number (got '$RABBITMQ_PORT')"
[[ $RABBITMQ_USER != *:* ]] || fail "RABBITMQ_USER must not contain ':' (HTTP basic authentication cannot carry it)"
[[ $RABBITMQ_BOOTSTRAP_USER != *:* ]] || fail "RABBITMQ_BOOTSTRAP_USER must not contain ':' (HTTP basic authentication cannot carry it)"

BASE_URL="http://$RABBITMQ_HOST:$RABBITMQ_PORT"
# A request that hangs longer than this is a broker in trouble, not a slow one.
REQUEST_TIMEOUT=30

# --- The topology file, checked before anything touches the broker -------------------

[[ -r $RABBITMQ_TOPOLOGY_FILE ]] ||
  fail "cannot read topology file $RABBITMQ_TOPOLOGY_FILE: set RABBITMQ_TOPOLOGY_FILE to a readable file"
if ! jq_error=$(jq empty "$RABBITMQ_TOPOLOGY_FILE" 2>&1); then
  fail "topology file $RABBITMQ_TOPOLOGY_FILE is not valid JSON (${jq_error//$'\n'/ }): fix it or set RABBITMQ_TOPOLOGY_FILE"
fi

# The shape the operator accepts too (operator/src/marketplace/topology.ts): every field
# present with its type, and bindings only between what the file declares.
# shellcheck disable=SC2016 # a jq program: its $names are jq's
TOPOLOGY_PROBLEMS='
def kind: if . == "object" or . == "array" then "an \(.)" else "a \(.)" end;
def check($where; $fields):
  . as $item
  | $fields | to_entries[]
  | .key as $key | .value as $type
  | select(($item[$key] | type) != $type)
  | "\($where).\($key) must be \($type | kind)";
def each($list; $where; $fields):
  $list | to_entries[]
  | "\($where)[\(.key)]" as $at
  | if (.value | type) != "object" then "\($at) must be an object"
    else .value | check($at; $fields) end;
if type != "object" then "the top level must be an object"
else
  (["exchanges", "queues", "bindings"][] as $key
    | select((.[$key] | type) != "array") | "\($key) must be an array"),
  (select([.exchanges, .queues, .bindings] | all(type == "array"))
    | [(.exchanges + .queues)[] | objects | .name | strings] as $names
    | each(.exchanges; "exchanges"; {name: "string", type: "string", durable: "boolean",
        auto_delete: "boolean", internal: "boolean", arguments: "object"}),
      each(.queues; "queues"; {name: "string", durable: "boolean", auto_delete: "boolean",
        arguments: "object"}),
      each(.bindings; "bindings"; {source: "string", destination: "string",
        destination_type: "string", routing_key: "string", arguments: "object"}),
      (.bindings | to_entries[] | "bindings[\(.key)]" as $at | .value | objects
        | (.destination_type | strings | select(IN("queue", "exchange") | not)
            | "\($at).destination_type must be queue or exchange"),
          ((.source, .destination) | strings | select(IN($names[]) | not)
            | "\($at) names \(.), which the file does not declare")),
      ($names[] | select(. == "") | "a name is empty"))
end'
problems=$(jq -rs "if length != 1 then \"it must hold exactly one JSON document\"
  else .[0] | [$TOPOLOGY_PROBLEMS] | join(\"; \") end" "$RABBITMQ_TOPOLOGY_FILE")
[[ -z $problems ]] ||
  fail "topology file $RABBITMQ_TOPOLOGY_FILE is invalid: $problems: fix it (see rabbitmq/README.md)"

# --- Management API calls ----------------------------------------------------------------

# curl reads the credentials from a config on a pipe, so they never show in `ps`.
curl_credentials() {
  local credentials="$1:$2"
  credentials=${credentials//\\/\\\\}
  credentials=${credentials//\"/\\\"}
  credentials=${credentials//$'\n'/\\n}
  printf 'user = "%s"\n' "$credentials"
}

urlencode() {
  jq -rn --arg value "$1" '$value | @uri'
}

# The account the calls use: set by log_in.
API_USER=''
API_PASSWORD=''

# api METHOD PATH [BODY]: sets API_STATUS and API_BODY; fails when the broker cannot be reached.
api() {
  local method=$1 path=$2 body=${3-} output
  local data=()
  [[ -z $body ]] || data=(--data-binary @-)
  if ! output=$(curl --silent --show-error --max-time "$REQUEST_TIMEOUT" \
    --config <(curl_credentials "$API_USER" "$API_PASSWORD") \
    --request "$method" --header 'content-type: application/json' ${data[@]+"${data[@]}"} \
    --write-out '\n%{http_code}' "$BASE_URL/api$path" 2>&1 <<<"$body"); then
    fail "lost the RabbitMQ management API at $BASE_URL during $method $path (${output//$'\n'/ }): check that the broker is up, then rerun"
  fi
  API_STATUS=${output##*$'\n'}
  API_BODY=${output%$'\n'*}
}

# The broker's own words for a refused call, on one line.
api_reason() {
  { jq -r '.reason // .error // empty' <<<"$API_BODY" 2>/dev/null || echo "$API_BODY"; } | tr '\n' ' ' | cut -c1-300
}

# api_expect METHOD PATH BODY WHAT: the call must succeed (2xx), else fail naming WHAT.
api_expect() {
  api "$1" "$2" "$3"
  [[ $API_STATUS != 2?? ]] || return 0
  [[ $API_STATUS != 401 ]] ||
    fail "RabbitMQ refused the credentials of $API_USER while trying to $4: check its password, then rerun"
  fail "RabbitMQ answered HTTP $API_STATUS while trying to $4 ($(api_reason)): fix that on the broker or in the topology file, then rerun"
}

# --- 1. Wait for the management API ------------------------------------------------------

wait_for_management_api() {
  local deadline=$((SECONDS + WAIT_TIME)) next_report=$((SECONDS + 5)) status
  info "waiting up to ${WAIT_TIME}s for the RabbitMQ management API at $BASE_URL"
  while :; do
    # Any HTTP answer but a 5xx means the API is serving (a 401 too: no credentials sent).
    status=$(curl --silent --output /dev/null --write-out '%{http_code}' \
      --connect-timeout 2 --max-time 3 "$BASE_URL/api/overview" || true)
    if [[ $status =~ ^[1-4][0-9][0-9]$ ]]; then
      info "management API answers at $BASE_URL"
      return 0
    fi
    ((SECONDS < deadline)) ||
      fail "the RabbitMQ management API at $RABBITMQ_HOST:$RABBITMQ_PORT did not answer within ${WAIT_TIME}s: check RABBITMQ_HOST and RABBITMQ_PORT (the management port, default 15672), that the broker runs with the rabbitmq_management plugin, or raise WAIT_TIME"
    if ((SECONDS >= next_report)); then
      info "still waiting for $BASE_URL ($((WAIT_TIME - deadline + SECONDS))s of ${WAIT_TIME}s)"
      next_report=$((SECONDS + 5))
    fi
    sleep 1
  done
}

# --- 2. Log in ---------------------------------------------------------------------------

# log_in USER PASSWORD: makes it the account of later calls and sets LOGIN to
# "administrator", "user" (logs in but lacks the administrator tag) or "refused".
log_in() {
  API_USER=$1 API_PASSWORD=$2
  api GET /whoami
  if [[ $API_STATUS != 200 ]]; then
    LOGIN=refused
  elif [[ $(jq -r '.tags | if type == "array" then . else split(",") end | index("administrator") != null' <<<"$API_BODY") == true ]]; then
    LOGIN=administrator
  else
    LOGIN=user
  fi
}

# --- 3. Vhost, admin user and permissions ------------------------------------------------

ensure_vhost() {
  api GET "/vhosts/$VHOST_PATH"
  case $API_STATUS in
    200) info "vhost $RABBITMQ_VHOST exists" ;;
    404)
      api_expect PUT "/vhosts/$VHOST_PATH" '{}' "create vhost $RABBITMQ_VHOST"
      info "vhost $RABBITMQ_VHOST created"
      ;;
    *) fail "RabbitMQ answered HTTP $API_STATUS when reading vhost $RABBITMQ_VHOST ($(api_reason)): make $API_USER an administrator, then rerun" ;;
  esac
}

# Creates the admin user, or sets its password and adds the administrator tag to its tags.
write_admin_user() {
  local tags='["administrator"]' body action=created
  api GET "/users/$USER_PATH"
  if [[ $API_STATUS == 200 ]]; then
    tags=$(jq -c '.tags | if type == "array" then . else split(",") end | . + ["administrator"] | unique' <<<"$API_BODY")
    action='updated (password and administrator tag)'
  fi
  # The password reaches jq on stdin, never on a command line.
  body=$(printf '%s' "$RABBITMQ_PASSWORD" | jq -Rsc --argjson tags "$tags" '{password: ., tags: ($tags | join(","))}')
  api_expect PUT "/users/$USER_PATH" "$body" "create or update user $RABBITMQ_USER"
  info "user $RABBITMQ_USER $action"
}

ensure_permissions() {
  local wanted='{"configure":".*","write":".*","read":".*"}'
  api GET "/permissions/$VHOST_PATH/$USER_PATH"
  if [[ $API_STATUS == 200 && $(jq --argjson wanted "$wanted" '{configure, write, read} == $wanted' <<<"$API_BODY") == true ]]; then
    info "user $RABBITMQ_USER has full permissions on vhost $RABBITMQ_VHOST"
    return 0
  fi
  api_expect PUT "/permissions/$VHOST_PATH/$USER_PATH" "$wanted" \
    "give $RABBITMQ_USER full permissions on vhost $RABBITMQ_VHOST"
  info "user $RABBITMQ_USER given full permissions on vhost $RABBITMQ_VHOST"
}

# --- 4. Topology -------------------------------------------------------------------------

# Compares the file ($topology) with what the vhost holds (the input: {exchanges, queues,
# bindings} as the broker lists them). Output: {conflicts: [message], exchanges, queues,
# bindings: [index in the file of each one missing]}.
# shellcheck disable=SC2016 # a jq program: its $names are jq's
TOPOLOGY_DIFF='
def exchange_settings: {type, durable, auto_delete, internal, arguments};
def queue_settings: {durable, auto_delete, arguments};
def binding_key: {source, destination, destination_type, routing_key, arguments};
def differs($kind; $live; settings):
  .[] as $want
  | $live[] | select(.name == $want.name)
  | select(settings != ($want | settings))
  | "\($kind) \($want.name) exists as \(settings | tojson) but the file wants \($want | settings | tojson)";
def missing($live; key):
  to_entries[] | select((.value | key) as $key | $live | map(key) | index([$key]) == null) | .key;
. as $live
| {
    conflicts: [
      ($topology.exchanges | differs("exchange"; $live.exchanges; exchange_settings)),
      ($topology.queues | differs("queue"; $live.queues; queue_settings))
    ],
    exchanges: [$topology.exchanges | missing($live.exchanges; .name)],
    queues: [$topology.queues | missing($live.queues; .name)],
    bindings: [$topology.bindings | missing($live.bindings; binding_key)]
  }'

topology_value() {
  jq -r "$1" "$RABBITMQ_TOPOLOGY_FILE"
}

declare_topology() {
  local live diff conflicts index name body source destination routing_key kind declared=0
  api_expect GET "/exchanges/$VHOST_PATH?columns=name,type,durable,auto_delete,internal,arguments" '' \
    "list the exchanges of vhost $RABBITMQ_VHOST"
  live="{\"exchanges\":$API_BODY"
  api_expect GET "/queues/$VHOST_PATH?columns=name,durable,auto_delete,arguments" '' \
    "list the queues of vhost $RABBITMQ_VHOST"
  live+=",\"queues\":$API_BODY"
  api_expect GET "/bindings/$VHOST_PATH?columns=source,destination,destination_type,routing_key,arguments" '' \
    "list the bindings of vhost $RABBITMQ_VHOST"
  live+=",\"bindings\":$API_BODY}"
  # On stdin: a vhost's listing can outgrow what one command-line argument may hold.
  diff=$(printf '%s' "$live" | jq -c --slurpfile file "$RABBITMQ_TOPOLOGY_FILE" \
    "\$file[0] as \$topology | $TOPOLOGY_DIFF")

  # Nothing is declared while anything conflicts: RabbitMQ cannot change an exchange or
  # a queue in place, and deleting one here would lose its messages.
  conflicts=$(jq -r '.conflicts | join("; ")' <<<"$diff")
  [[ -z $conflicts ]] ||
    fail "vhost $RABBITMQ_VHOST holds objects that differ from $RABBITMQ_TOPOLOGY_FILE: $conflicts. RabbitMQ cannot change them in place: move their messages away and delete them (or align the file), then rerun"

  for index in $(jq -r '.exchanges[]' <<<"$diff"); do
    name=$(topology_value ".exchanges[$index].name")
    body=$(topology_value ".exchanges[$index] | {type, durable, auto_delete, internal, arguments} | tojson")
    api_expect PUT "/exchanges/$VHOST_PATH/$(urlencode "$name")" "$body" "declare exchange $name"
    info "exchange $name declared"
    declared=$((declared + 1))
  done
  for index in $(jq -r '.queues[]' <<<"$diff"); do
    name=$(topology_value ".queues[$index].name")
    body=$(topology_value ".queues[$index] | {durable, auto_delete, arguments} | tojson")
    api_expect PUT "/queues/$VHOST_PATH/$(urlencode "$name")" "$body" "declare queue $name"
    info "queue $name declared"
    declared=$((declared + 1))
  done
  for index in $(jq -r '.bindings[]' <<<"$diff"); do
    source=$(topology_value ".bindings[$index].source")
    destination=$(topology_value ".bindings[$index].destination")
    routing_key=$(topology_value ".bindings[$index].routing_key")
    kind=$(topology_value "if .bindings[$index].destination_type == \"queue\" then \"q\" else \"e\" end")
    body=$(topology_value ".bindings[$index] | {routing_key, arguments} | tojson")
    api_expect POST "/bindings/$VHOST_PATH/e/$(urlencode "$source")/$kind/$(urlencode "$destination")" \
      "$body" "bind $destination to $source"
    info "binding $source -[$routing_key]-> $destination declared"
    declared=$((declared + 1))
  done
  info "vhost $RABBITMQ_VHOST holds the topology of $RABBITMQ_TOPOLOGY_FILE ($(topology_value '"\(.exchanges | length) exchanges, \(.queues | length) queues, \(.bindings | length) bindings"'); $declared declared by this run)"
}

# --- Main --------------------------------------------------------------------------------

VHOST_PATH=$(urlencode "$RABBITMQ_VHOST")
USER_PATH=$(urlencode "$RABBITMQ_USER")

wait_for_management_api

# The admin user itself when it is already set up (then nothing about it changes), else
# the bootstrap account, which writes the admin user; later steps run as the admin user.
log_in "$RABBITMQ_USER" "$RABBITMQ_PASSWORD"
if [[ $LOGIN == administrator ]]; then
  info "logged in as $RABBITMQ_USER, already an administrator with this password"
  ensure_vhost
else
  log_in "$RABBITMQ_BOOTSTRAP_USER" "$RABBITMQ_BOOTSTRAP_PASSWORD"
  case $LOGIN in
    administrator) info "logged in as bootstrap user $RABBITMQ_BOOTSTRAP_USER" ;;
    user) fail "bootstrap user $RABBITMQ_BOOTSTRAP_USER is not an administrator, and $RABBITMQ_USER cannot log in as one: set RABBITMQ_BOOTSTRAP_USER and RABBITMQ_BOOTSTRAP_PASSWORD to an administrator account" ;;
    *) fail "RabbitMQ at $BASE_URL refused both $RABBITMQ_USER (RABBITMQ_PASSWORD) and bootstrap user $RABBITMQ_BOOTSTRAP_USER (RABBITMQ_BOOTSTRAP_PASSWORD): correct RABBITMQ_PASSWORD, or set RABBITMQ_BOOTSTRAP_USER and RABBITMQ_BOOTSTRAP_PASSWORD to an administrator account (guest logs in from localhost only)" ;;
  esac
  ensure_vhost
  write_admin_user
  log_in "$RABBITMQ_USER" "$RABBITMQ_PASSWORD"
  [[ $LOGIN == administrator ]] ||
    fail "user $RABBITMQ_USER was written but cannot log in as an administrator with RABBITMQ_PASSWORD: check the broker's auth_backends (the internal backend must be enabled), then rerun"
fi
ensure_permissions
declare_topology
info "done: $RABBITMQ_USER administers vhost $RABBITMQ_VHOST at $BASE_URL"
