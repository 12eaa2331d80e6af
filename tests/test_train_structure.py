"""minidl/train is written in parts a reader can hold: no function longer than 100 lines."""
import ast
import pathlib

import minidl.train

LIMIT = 100


def test_no_function_in_minidl_train_is_longer_than_100_lines():
    folder = pathlib.Path(minidl.train.__file__).parent
    files = sorted(folder.glob("*.py"))
    assert len(files) >= 8                      # the package's modules were found
    long = []
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > LIMIT:
                    long.append(f"{path.name}:{node.lineno} {node.name} ({lines} lines)")
    assert long == []


def test_the_checker_sees_a_long_function():
    source = "def f():\n" + "    x = 1\n" * LIMIT
    node = ast.parse(source).body[0]
    assert node.end_lineno - node.lineno + 1 == LIMIT + 1
