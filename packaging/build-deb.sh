#!/usr/bin/env bash
# Builds dist/recconsole_VERSION_ARCH.deb with dpkg-deb from the standalone bundle
# (packaging/build-linux.sh builds it when dist/recconsole/ is not there): the bundle
# under /opt/recconsole, the `recconsole` command in /usr/bin, the desktop entry and the
# icon. Debian's desktop-file-utils and hicolor-icon-theme refresh their caches through
# their own triggers, so the package has no maintainer scripts.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x dist/recconsole/recconsole ] || packaging/build-linux.sh
version=$(.venv/bin/python -c 'from importlib.metadata import version; print(version("recconsole"))')
arch=$(dpkg --print-architecture)
root=build/deb/recconsole
rm -rf build/deb
mkdir -p "$root/DEBIAN" "$root/opt" "$root/usr/bin" "$root/usr/share/applications" \
  "$root/usr/share/icons/hicolor/scalable/apps" "$root/usr/share/doc/recconsole"
cp -a dist/recconsole "$root/opt/recconsole"
rm -f "$root/opt/recconsole/recconsole.desktop" "$root/opt/recconsole/recconsole.svg"
ln -s /opt/recconsole/recconsole "$root/usr/bin/recconsole"
resources=src/recconsole/resources
install -m 0644 "$resources/recconsole.desktop" "$root/usr/share/applications/"
install -m 0644 "$resources/recconsole.svg" "$root/usr/share/icons/hicolor/scalable/apps/"
printf 'recconsole\n\nLicense: Apache-2.0\n' > "$root/usr/share/doc/recconsole/copyright"
# What the bundle loads from the system: OpenGL/EGL, X11 (xcb) and its keyboard, fonts,
# D-Bus and the PulseAudio client (the same libraries scripts/setup installs).
depends="libc6, libegl1, libgl1, libopengl0, libfontconfig1, libdbus-1-3, libpulse0,
 libxkbcommon0, libxkbcommon-x11-0, libxcb-cursor0, libxcb-icccm4, libxcb-keysyms1,
 libxcb-shape0, libxcb-xinerama0, libxcb-randr0, libxcb-render-util0, libxcb-image0, libxcb-xkb1"
cat > "$root/DEBIAN/control" <<CONTROL
Package: recconsole
Version: $version
Architecture: $arch
Maintainer: recconsole maintainers <maintainers@recconsole.invalid>
Installed-Size: $(du -sk --exclude=DEBIAN "$root" | cut -f1)
Depends: $(echo $depends)
Section: video
Priority: optional
Description: Recording console for LiveKit and OpenVidu rooms
 Join a LiveKit or OpenVidu 3 room, see and hear it, start and stop its recording
 and manage the recordings; or run its webhook listener headless (recconsole listen).
 A standalone build: Python and Qt are inside /opt/recconsole.
CONTROL
find "$root" -type d -exec chmod 0755 {} +
# zstd: packed in about a second (xz takes two minutes here for 30 MB less); dpkg reads
# it since Debian 12 and Ubuntu 21.10.
dpkg-deb --root-owner-group -Zzstd --build "$root" "dist/recconsole_${version}_${arch}.deb"
dpkg-deb --info "dist/recconsole_${version}_${arch}.deb" | sed -n '/Package:/,/Description:/p'
du -h "dist/recconsole_${version}_${arch}.deb"
