"""workbench's theme files (TOML), installed as the package data of workbench.themes."""
