#!/usr/bin/env bash
# Installs dist/recconsole_VERSION_ARCH.deb with dpkg, runs the installed `recconsole
# --self-test` (window offscreen, stylesheet and icon, Qt Multimedia, LiveKit FFI),
# checks the desktop entry and icon, removes the package with dpkg -r and checks that
# nothing of it is left. As root (or through sudo): it changes the system's packages,
# and refuses to touch a recconsole package that was installed before it ran.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf 'check-deb: %s\n' "$*" >&2; }
version=$(.venv/bin/python -c 'from importlib.metadata import version; print(version("recconsole"))')
deb="dist/recconsole_${version}_$(dpkg --print-architecture).deb"
[ -f "$deb" ] || { say "no $deb: run packaging/build-deb.sh first"; exit 1; }
sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
if dpkg-query -W -f='${Status}' recconsole 2>/dev/null | grep -q "ok installed"; then
  say "a recconsole package is already installed here; not replacing it"; exit 1
fi
mapfile -t owned < <(dpkg-deb --fsys-tarfile "$deb" | tar -t | sed 's|^\./|/|; s|/$||' | grep -v '^/$')
$sudo dpkg -i "$deb" >/dev/null
trap '$sudo dpkg -r recconsole >/dev/null 2>&1 || true' EXIT
[ "$(command -v recconsole)" = /usr/bin/recconsole ] || { say "recconsole is not /usr/bin/recconsole"; exit 1; }
[ "$(readlink -f /usr/bin/recconsole)" = /opt/recconsole/recconsole ] \
  || { say "/usr/bin/recconsole does not lead to /opt/recconsole"; exit 1; }
if command -v desktop-file-validate >/dev/null; then
  desktop-file-validate /usr/share/applications/recconsole.desktop
fi
[ -s /usr/share/icons/hicolor/scalable/apps/recconsole.svg ] || { say "no icon"; exit 1; }
home=$(mktemp -d)
(cd "$home" && HOME="$home" QT_QPA_PLATFORM=offscreen recconsole --env-file /dev/null --self-test)
rm -rf "$home"
$sudo dpkg -r recconsole >/dev/null
trap - EXIT
if dpkg-query -W -f='${Status}' recconsole 2>/dev/null | grep -q "ok installed"; then
  say "recconsole is still installed after dpkg -r"; exit 1
fi
left=()
for path in "${owned[@]}"; do
  # Shared folders (/usr, /usr/share/applications, ...) stay; what the package alone had goes.
  [ -e "$path" ] || [ -L "$path" ] || continue
  [ -d "$path" ] && [ ! -L "$path" ] && [ "${path#/opt/recconsole}" = "$path" ] && continue
  left+=("$path")
done
((${#left[@]} == 0)) || { say "left after dpkg -r: ${left[*]}"; exit 1; }
say "$deb installed, self-tested and removed; nothing of it is left"
