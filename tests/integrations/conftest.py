"""The vendors' tests: this conftest puts tests/integrations on the import path (pytest's
``prepend`` import mode), so every vendor's tests import ``integration_world``, what they share."""
