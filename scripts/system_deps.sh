#!/usr/bin/env bash
# System packages the course needs beyond Python (Debian/Ubuntu package names):
#   g++                    compiles the exported C files and the sketches' portable parts in the tests
#   gcc-arm-none-eabi (+ libnewlib-arm-none-eabi, libstdc++-arm-none-eabi-newlib)
#                          compiles the model arrays for the kits' Cortex-M4 and measures their flash
#   universal-ctags        writes a sketch's function prototypes, as the Arduino tools do, when the
#                          sketches are compiled against the real Arduino core (tinymlkit.toolchain)
#   portaudio19-dev        the C library PyAudio builds against (the Edge Impulse Linux SDK imports it)
#   espeak-ng, flite       speech synthesizers for the keyword-spotting track's synthetic voices
#                          (the course ships a pre-generated set; these regenerate and extend it)
#   chromium               headless browser in tests/test_book.py (the offline book, network blocked)
#   dataset-fashion-mnist  Fashion-MNIST's original IDX files in /usr/share/datasets/fashion-mnist
#                          (the vision track; the package ships a subset for machines without it)
#   nodejs, npm            configurable-http-proxy for the workshop server (grading/hub-proxy, make server)
#   bubblewrap             the autograding sandbox (grading/sandbox.py): each student's kernel runs in
#                          bwrap, with no access to solutions, the gradebook or other students
# Installs what is missing with apt when run as root; otherwise says what to install.
set -euo pipefail
need=()
command -v g++ >/dev/null 2>&1 || need+=(g++)
if ! command -v arm-none-eabi-g++ >/dev/null 2>&1 || \
   ! echo '#include <cstdint>' | arm-none-eabi-g++ -x c++ -fsyntax-only - >/dev/null 2>&1; then
  need+=(gcc-arm-none-eabi libnewlib-arm-none-eabi libstdc++-arm-none-eabi-newlib)
fi
[ -f /usr/include/portaudio.h ] || [ -f /usr/local/include/portaudio.h ] || \
  [ -f /opt/homebrew/include/portaudio.h ] || need+=(portaudio19-dev)
{ command -v ctags-universal || command -v ctags; } >/dev/null 2>&1 || need+=(universal-ctags)
command -v espeak-ng >/dev/null 2>&1 || need+=(espeak-ng)
command -v flite >/dev/null 2>&1 || need+=(flite)
command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || need+=(chromium)
command -v bwrap >/dev/null 2>&1 || need+=(bubblewrap)
command -v npm >/dev/null 2>&1 || need+=(nodejs npm)
[ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || need+=(dataset-fashion-mnist)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing system packages: ${need[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
else
  echo "Missing system packages: ${need[*]}. Install them (Debian/Ubuntu: sudo apt-get install ${need[*]};" \
       "macOS: xcode-select --install, brew install portaudio and Arm's GNU toolchain;" \
       "Windows: use WSL). Tests that compile C or run the Edge Impulse SDK will be skipped;" \
       "without bubblewrap, make grade refuses to grade unless you choose UNSANDBOXED=1;" \
       "installing PyAudio fails without PortAudio; without dataset-fashion-mnist the vision" \
       "track trains on the subset shipped in the package." >&2
fi
