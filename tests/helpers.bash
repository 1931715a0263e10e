# Helpers shared by the e2e files (tests/*.bats load them with `load helpers`).

# kwctl's error is the last line of its stderr, which the tests compare; with RUST_BACKTRACE set
# in the caller's environment kwctl prints a backtrace after it. Set here, not only in the
# Makefile, so that `KWCTL=kwctl bats tests/e2e.bats` passes from any shell.
export RUST_BACKTRACE=0

# Whether $KWCTL is this repository's policy-host rather than the real kwctl.
is_policy_host() {
  [[ "$("$KWCTL" --version 2>/dev/null)" == policy-host* ]]
}

# jq program: the request's object with the response's patch applied. Covers the operations
# json_patch::diff emits (add, remove, replace), with RFC 6902 array insertion.
APPLY_PATCH='
def resolve($doc; $segments):
  reduce $segments[] as $segment ([];
    . as $done
    | ($doc | getpath($done)) as $parent
    | if ($parent | type) == "array"
      then $done + [if $segment == "-" then ($parent | length) else ($segment | tonumber) end]
      else $done + [$segment] end);
def apply($op):
  resolve(.; $op.path | split("/") | .[1:] | map(gsub("~1"; "/") | gsub("~0"; "~"))) as $path
  | if $op.op == "replace" then setpath($path; $op.value)
    elif $op.op == "remove" then delpaths([$path])
    elif $op.op == "add" and ($path | length) > 0 and (getpath($path[:-1]) | type) == "array"
    then getpath($path[:-1]) as $list
      | setpath($path[:-1]; $list[:$path[-1]] + [$op.value] + $list[$path[-1]:])
    elif $op.op == "add" then setpath($path; $op.value)
    else error("unexpected patch operation \($op.op)") end;
($request[0] | if has("request") then .request else . end | .object) as $object
| (if .patch then .patch | @base64d | fromjson else [] end) as $ops
| reduce $ops[] as $op ($object; apply($op))
'

# The object of REQUEST_FILE (an AdmissionRequest or AdmissionReview) after the patch of the
# response in $output.
patched_object() {
  jq -c --slurpfile request "$1" "$APPLY_PATCH" <<<"$output"
}
