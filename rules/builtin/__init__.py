"""Built-in rules. Every module in this package is imported by ``all_rules()``."""
