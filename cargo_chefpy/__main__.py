from cargo_chefpy.cli import entry

entry()
