"""Validate a CycloneDX JSON document against the official JSON schema.

usage: validate_cyclonedx.py SCHEMA_DIR BOM.json   (SCHEMA_DIR holds bom-1.6.schema.json and the
schemas it references, as shipped in the cyclonedx-go module)
"""

import json
import pathlib
import sys

from jsonschema import Draft7Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

schema_dir = pathlib.Path(sys.argv[1])
registry = Registry()
for path in schema_dir.glob("*.json"):
    contents = json.loads(path.read_text())
    resource = Resource.from_contents(contents, default_specification=DRAFT7)
    registry = registry.with_resource(contents.get("$id", path.name), resource)
schema = json.loads((schema_dir / "bom-1.6.schema.json").read_text())
validator = Draft7Validator(schema, registry=registry, format_checker=Draft7Validator.FORMAT_CHECKER)
errors = sorted(validator.iter_errors(json.loads(pathlib.Path(sys.argv[2]).read_text())), key=str)
for e in errors:
    print(e.json_path, e.message[:300])
sys.exit(1 if errors else 0)
