#!/usr/bin/env bash
# The system packages that `make setup` and `make test` use, installed when missing:
#   scripts/system-deps.sh setup   what scalefree itself needs: a TrueType font for the
#                                  report's figures (fonts-dejavu-core)
#   scripts/system-deps.sh test    that, and what only tests need: chromium
#                                  (tests/report_browser.rs), and as root slurm-wlm and
#                                  munge (tests/sweep_slurm.rs, which starts its own
#                                  cluster and so runs only as root)
# As root, the missing packages are installed with apt-get. As any other user nothing is
# installed: the script says once what is missing and the command that installs it, then
#   - stops (exit 1) when the font is missing, since the report cannot be drawn without
#     one (SCALEFREE_FONT=/path/to/font.ttf is the way round it without root);
#   - continues (exit 0) otherwise: the tests that need chromium or Slurm print that they
#     were skipped and why (with CI=true they fail instead).
set -euo pipefail
MODE=${1:-}
case "$MODE" in
setup | test) ;;
*) echo "usage: $0 setup|test" >&2; exit 2 ;;
esac

# The places src/plot.rs looks for DejaVu Sans, after $SCALEFREE_FONT.
FONTS=(/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf /usr/share/fonts/TTF/DejaVuSans.ttf
    /usr/share/fonts/dejavu/DejaVuSans.ttf)

have_font() {
    [[ -n ${SCALEFREE_FONT:-} && -f $SCALEFREE_FONT ]] && return 0
    local f
    for f in "${FONTS[@]}"; do [[ -f $f ]] && return 0; done
    return 1
}
# On PATH, or in an sbin folder (often not on a non-root user's PATH).
have() { command -v "$1" >/dev/null 2>&1 || [[ -x /usr/sbin/$1 || -x /sbin/$1 ]]; }
root=false
[[ $(id -u) == 0 ]] && root=true

packages=() # apt package names
lines=()    # what each is for
font_missing=false
if ! have_font; then
    font_missing=true
    packages+=(fonts-dejavu-core)
    lines+=("fonts-dejavu-core   a TrueType font for the report's figures (or set SCALEFREE_FONT=/path/to/font.ttf)")
fi
if [[ $MODE == test ]]; then
    if ! have chromium && ! have chromium-browser && ! have google-chrome; then
        packages+=(chromium)
        lines+=("chromium            headless browser for tests/report_browser.rs")
    fi
    if $root && { ! have sbatch || ! have slurmctld || ! have munged; }; then
        packages+=(slurm-wlm munge)
        lines+=("slurm-wlm munge     a single-node Slurm cluster for tests/sweep_slurm.rs")
    fi
fi

if ((${#packages[@]} > 0)) && $root && have apt-get; then
    echo "== installing ${packages[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${packages[@]}" >/dev/null
    exit 0
fi

if ((${#packages[@]} > 0)); then
    if $root; then
        echo "== missing system packages (no apt-get here to install them):"
        how="install them with this system's package manager (Debian names: ${packages[*]})"
    else
        echo "== missing system packages, not installed since this is not root (uid $(id -u)):"
        how="sudo apt-get install -y ${packages[*]}"
    fi
    for line in "${lines[@]}"; do echo "     $line"; done
    echo "   to install them: $how"
    if $font_missing; then
        echo "   stopping: scalefree draws its figures with this font; install it, or set" >&2
        echo "   SCALEFREE_FONT to any TrueType font file and run make again." >&2
        exit 1
    fi
    echo "   continuing: the tests that need them print SKIPPED and why (with CI=true they fail)."
fi
if [[ $MODE == test ]] && ! $root; then
    echo "== note: tests/sweep_slurm.rs starts its own Slurm cluster (slurm-wlm, munge), which needs"
    echo "   root: as uid $(id -u) it prints SKIPPED (run make test as root to include it)."
fi
exit 0
