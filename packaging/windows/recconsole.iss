; Inno Setup script for the Windows installer. Build the bundle first on Windows:
;   py -3.11 -m venv .venv && .venv\Scripts\pip install -c requirements\lock.txt -e .[package]
;   .venv\Scripts\pyinstaller --noconfirm --name recconsole --onedir --windowed ^
;     --paths src --collect-binaries livekit.rtc --collect-data livekit.rtc ^
;     --collect-data certifi --copy-metadata recconsole ^
;     --hidden-import PySide6.QtMultimedia --hidden-import PySide6.QtMultimediaWidgets ^
;     --collect-data recconsole packaging\entry.py
;   dist\recconsole\recconsole.exe --self-test
; then compile this script with Inno Setup 6 (iscc packaging\windows\recconsole.iss).

#define AppVersion GetEnv("RECCONSOLE_VERSION")
#if AppVersion == ""
  #define AppVersion "0.1.0"
#endif

[Setup]
AppId={{6F0C4C8E-2B7D-4E0B-9B53-5E6A1D2A7C11}
AppName=recconsole
AppVersion={#AppVersion}
AppPublisher=recconsole
DefaultDirName={autopf}\recconsole
DefaultGroupName=recconsole
OutputDir=..\..\dist
OutputBaseFilename=recconsole-{#AppVersion}-windows-x64-setup
Compression=lzma2
SolidCompression=yes
ArchitecturesInstallIn64BitMode=x64compatible
PrivilegesRequiredOverridesAllowed=dialog

[Files]
Source: "..\..\dist\recconsole\*"; DestDir: "{app}"; Flags: recursesubdirs ignoreversion

[Icons]
Name: "{group}\recconsole"; Filename: "{app}\recconsole.exe"
Name: "{autodesktop}\recconsole"; Filename: "{app}\recconsole.exe"; Tasks: desktopicon

[Tasks]
Name: "desktopicon"; Description: "Create a desktop shortcut"; Flags: unchecked

[Run]
Filename: "{app}\recconsole.exe"; Description: "Start recconsole"; Flags: nowait postinstall skipifsilent
