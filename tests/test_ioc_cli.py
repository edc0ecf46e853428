"""The command lines of caffi.server and pva.server IOCs: the same options in
the same order, each module's help texts and -q/-v log levels."""
import logging

import pytest

from caffi.server import cli as ca_cli
from pva.server import cli as pva_cli

COMMON = ["-h", "--prefix", "-q", "-v", "--list-pvs", "--async-lib", "--interfaces"]


def _options(parser):
    return [action.option_strings[0] for action in parser._actions]


@pytest.mark.parametrize("cli, extra", [(ca_cli, ["--protocols"]), (pva_cli, [])])
def test_same_options_in_the_same_order(cli, extra):
    parser, _ = cli.template_arg_parser(desc="d", default_prefix="p:",
                                        macros={"need": None, "opt": "1"})
    assert _options(parser) == COMMON + extra + ["--need", "--opt"]
    with pytest.raises(SystemExit):
        parser.parse_args([])                          # a required macro is missing
    assert parser.parse_args(["--need", "x"]).opt == "1"


def test_help_texts_are_each_modules_own():
    ca_help = ca_cli.template_arg_parser(desc="d", default_prefix="p:",
                                         macros={"opt": "1"})[0].format_help()
    pva_help = pva_cli.template_arg_parser(desc="d", default_prefix="p:",
                                           macros={"opt": "1"})[0].format_help()
    assert "Log more (-vv: debug)." in ca_help
    assert "Macro substitution, default: '1'" in ca_help
    assert "Show more log messages (-vv for even more)." in pva_help
    assert "Macro substitution, optional" in pva_help


@pytest.mark.parametrize("cli, argv, level", [
    (ca_cli, [], logging.INFO), (ca_cli, ["-q"], logging.WARNING),
    (ca_cli, ["-v"], logging.INFO), (ca_cli, ["-vv"], logging.DEBUG),
    (pva_cli, [], logging.INFO), (pva_cli, ["-q"], logging.WARNING),
    (pva_cli, ["-v"], logging.DEBUG),
])
def test_log_level(monkeypatch, cli, argv, level):
    levels = []
    monkeypatch.setattr(logging, "basicConfig", lambda **kw: levels.append(kw["level"]))
    monkeypatch.setattr(logging.getLogger("pva"), "level", logging.getLogger("pva").level)
    cli.ioc_arg_parser(desc="d", default_prefix="p:", argv=argv)
    assert levels == [level]
