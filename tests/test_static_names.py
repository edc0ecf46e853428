"""The names of caffi.ca and caffi.macros are defined where tools can see them.

caffi 1.0 star-imported its C macro names into ``caffi.ca``; they are kept
(``ca.DBR_DOUBLE``...), but each must be bound by a statement an editor, a
type checker or a linter can read, not injected at run time through
``globals()``.  Checked on the source text, against what the modules provide.
"""
import ast
import os

import caffi.ca
import caffi.macros

SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "caffi")


def _bound(path):
    """Names a module binds by statements at its top level."""
    with open(path) as f:
        tree = ast.parse(f.read())
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                for n in ast.walk(t):
                    if isinstance(n, ast.Name):
                        names.add(n.id)
    return names


def test_every_macro_name_is_bound_statically_in_macros():
    missing = set(caffi.macros.__all__) - _bound(os.path.join(SRC, "macros.py"))
    assert not missing, sorted(missing)


def test_every_macro_name_of_ca_is_bound_statically_in_ca():
    names = set(caffi.macros.__all__)
    assert names <= set(dir(caffi.ca))           # what caffi.ca provides is unchanged
    missing = names - _bound(os.path.join(SRC, "ca.py"))
    assert not missing, sorted(missing)
    for name in names:
        assert getattr(caffi.ca, name) is getattr(caffi.macros, name), name
