#!/usr/bin/env bash
# Builds the standalone Linux bundle (no Python needed on the target) with PyInstaller,
# runs its self-test offscreen, and packs dist/recconsole-VERSION-linux-x86_64.tar.gz.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || scripts/setup
.venv/bin/python -m pip install -q -c requirements/lock.txt -e '.[package]'
version=$(.venv/bin/python -c 'from importlib.metadata import version; print(version("recconsole"))')
rm -rf build/pyinstaller dist/recconsole
.venv/bin/pyinstaller --noconfirm --clean --log-level WARN \
  --name recconsole --onedir --windowed \
  --distpath dist --workpath build/pyinstaller --specpath build/pyinstaller \
  --paths src \
  --collect-binaries livekit.rtc --collect-data livekit.rtc \
  --collect-data certifi \
  --copy-metadata recconsole \
  --hidden-import PySide6.QtMultimedia --hidden-import PySide6.QtMultimediaWidgets \
  --collect-data recconsole \
  packaging/entry.py
cp src/recconsole/resources/recconsole.desktop src/recconsole/resources/recconsole.svg dist/recconsole/
QT_QPA_PLATFORM=offscreen dist/recconsole/recconsole --self-test
# The bundled binary joins a real room with a publisher bot and must receive video. The dev
# profile's LiveKit keeps its state in Redis: `up livekit` starts Redis first. Both run on
# ports of their own (a developer's dev stack may be running) and are stopped afterwards.
stack=(--profile dev --offset "${BUNDLE_CHECK_PORT_OFFSET:-510}")
(
  trap '.venv/bin/python -m recconsole_devtools.devstack down livekit redis "${stack[@]}"' EXIT
  .venv/bin/python -m recconsole_devtools.devstack up livekit "${stack[@]}"
  eval "$(.venv/bin/python -m recconsole_devtools.devstack env "${stack[@]}")"
  .venv/bin/python -m recconsole_devtools.bot --room bundle-check --count 1 --no-audio &
  bot=$!
  trap 'kill $bot 2>/dev/null; wait $bot 2>/dev/null
        .venv/bin/python -m recconsole_devtools.devstack down livekit redis "${stack[@]}"' EXIT
  QT_QPA_PLATFORM=offscreen dist/recconsole/recconsole --env-file /dev/null \
    --self-test --join bundle-check
)
tar -C dist -czf "dist/recconsole-$version-linux-x86_64.tar.gz" recconsole
du -sh dist/recconsole "dist/recconsole-$version-linux-x86_64.tar.gz"
