"""Every command is documented: an example in its --help, and a row in the README's command table."""

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from mixer.cli import main

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def commands(group: click.Group, prefix: str = "mixer"):
    for name, cmd in group.commands.items():
        if isinstance(cmd, click.Group):
            yield from commands(cmd, f"{prefix} {name}")
        else:
            yield f"{prefix} {name}", cmd


ALL = dict(commands(main))


def test_the_cli_has_the_expected_commands():
    assert sorted(ALL) == sorted(
        [
            "mixer build",
            "mixer mix",
            "mixer status",
            "mixer inspect",
            "mixer report",
            "mixer schema",
            "mixer tokenizer train",
            "mixer sample-corpus",
            "mixer train",
            "mixer export-hf",
            "mixer study",
            "mixer eval",
            "mixer verify",
        ]
    )


@pytest.mark.parametrize("name", sorted(ALL))
def test_every_command_has_an_example_and_a_readme_row(name):
    result = CliRunner().invoke(main, [*name.split()[1:], "--help"])
    assert result.exit_code == 0
    assert "Example:" in result.output and name in result.output.split("Example:")[1]
    assert f"| `{name}" in README


def test_tokenizer_train_matches_the_builds_own_training(corpus, tmp_path):
    from conftest import recipe_text

    recipe = tmp_path / "r.yaml"
    recipe.write_text(recipe_text(corpus["root"], vocab=600))
    out = tmp_path / "tok" / "tokenizer.json"
    result = CliRunner().invoke(main, ["tokenizer", "train", str(recipe), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert result.output == f"wrote {out} (600 ids, EOS '<|endoftext|>')\n"
    built = CliRunner().invoke(main, ["build", str(recipe), "-o", str(tmp_path / "build")])
    assert built.exit_code == 0, built.output
    assert out.read_bytes() == (tmp_path / "build" / "tokenizer" / "tokenizer.json").read_bytes()
    result = CliRunner().invoke(
        main, ["tokenizer", "train", str(recipe), "-o", str(out), "--vocab-size", "300"]
    )
    assert result.exit_code == 0 and "(300 ids" in result.output
