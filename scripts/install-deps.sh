#!/usr/bin/env bash
# Installs the C libraries synth links (through pkg-config), a General MIDI SoundFont and a font for pictures, if
# missing. Debian packages: libsndfile1-dev libfftw3-dev libopenblas-dev libsamplerate0-dev libfluidsynth-dev
# libcairo2-dev, timgm6mb-soundfont and fonts-dejavu-core (the labels of `synth plot`). Runs apt-get only when
# something is missing. Extra Debian package names given as arguments are installed too
# (scripts/test-baseline-cpu.sh passes qemu-user when it lacks qemu-x86_64).
set -euo pipefail

need=()
for pair in sndfile:libsndfile1-dev fftw3f:libfftw3-dev openblas:libopenblas-dev \
            samplerate:libsamplerate0-dev fluidsynth:libfluidsynth-dev cairo:libcairo2-dev; do
    pc=${pair%%:*}; pkg=${pair#*:}
    if ! pkg-config --exists "$pc" 2>/dev/null; then need+=("$pkg"); fi
done
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
[ -f /usr/share/sounds/sf2/TimGM6mb.sf2 ] || [ -f /usr/share/sounds/sf2/FluidR3_GM.sf2 ] || need+=(timgm6mb-soundfont)
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need+=(fonts-dejavu-core)
need+=("$@")

if [ ${#need[@]} -eq 0 ]; then
    exit 0
fi
echo "installing: ${need[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
