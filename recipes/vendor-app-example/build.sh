#!/bin/bash
set -euo pipefail

# Run the vendor's installer into the package's prefix.
"$SRC_DIR/installer/install.sh" --accept-eula --prefix "$PREFIX/opt/vendor-app"

# Render nodes do not need the manual.
rm -r "$PREFIX/opt/vendor-app/docs"

# The program on PATH.
mkdir -p "$PREFIX/bin"
ln -r -s "$PREFIX/opt/vendor-app/bin/vendor-app" "$PREFIX/bin/vendor-app"

# Activation: where the application lives, from $CONDA_PREFIX at activation time.
mkdir -p "$PREFIX/etc/conda/activate.d" "$PREFIX/etc/conda/deactivate.d"
cat > "$PREFIX/etc/conda/activate.d/$PKG_NAME-vars.sh" <<'SH'
export VENDOR_APP_LOCATION="$CONDA_PREFIX/opt/vendor-app"
SH
echo 'unset VENDOR_APP_LOCATION' > "$PREFIX/etc/conda/deactivate.d/$PKG_NAME-vars.sh"
