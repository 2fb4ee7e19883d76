"""pytest plugin: collects mapping YAML files as test items (see issue 4)."""
