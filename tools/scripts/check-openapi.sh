#!/usr/bin/env bash
# Validates schema/openapi.yaml against the OpenAPI 3.1 specification.
set -euo pipefail
cd "$(dirname "$0")/../.."
python3 -c "import openapi_spec_validator, yaml" 2>/dev/null || pip install -q openapi-spec-validator pyyaml
python3 - <<'PY'
import yaml
from openapi_spec_validator import validate
validate(yaml.safe_load(open("schema/openapi.yaml")))
print("schema/openapi.yaml is valid OpenAPI")
PY
