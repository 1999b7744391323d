#!/usr/bin/env bash
# Builds recconsole.app and a .dmg on macOS (run there, with Python 3.11+ from python.org).
set -euo pipefail
cd "$(dirname "$0")/../.."
python3 -m venv .venv && .venv/bin/pip install -q -c requirements/lock.txt -e '.[package]'
version=$(.venv/bin/python -c 'from importlib.metadata import version; print(version("recconsole"))')
.venv/bin/pyinstaller --noconfirm --clean --name recconsole --windowed --onedir \
  --osx-bundle-identifier org.recconsole.console \
  --paths src --collect-binaries livekit.rtc --collect-data livekit.rtc \
  --collect-data certifi --copy-metadata recconsole \
  --hidden-import PySide6.QtMultimedia --hidden-import PySide6.QtMultimediaWidgets \
  --collect-data recconsole packaging/entry.py
dist/recconsole.app/Contents/MacOS/recconsole --self-test
hdiutil create -volname recconsole -srcfolder dist/recconsole.app -ov -format UDZO \
  "dist/recconsole-$version-macos.dmg"
