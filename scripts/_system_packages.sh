# Sourced by scripts/run and scripts/test: install the Debian packages given as arguments when missing.
# As root with apt-get they are installed; otherwise the missing ones are named, and what needs them says so
# (certificates show a font warning; browser and font tests skip with a reason unless CI requires them).
missing=()
for pkg in "$@"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Debian パッケージをインストールします: ${missing[*]}" >&2
    apt-get update -qq || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "次の Debian パッケージがありません: ${missing[*]} (sudo apt-get install -y ${missing[*]})" >&2
  fi
fi
