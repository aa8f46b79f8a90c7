import click
import pytest
from click.testing import CliRunner

from softtarget.cli_analysis import COMMANDS


@pytest.fixture
def cli():
    group = click.Group("softtarget")
    for command in COMMANDS:
        group.add_command(command)
    return group


def test_commands_are_exported():
    assert [c.name for c in COMMANDS] == ["compare", "plot", "report"]


@pytest.mark.parametrize("verb", ["compare", "plot", "report"])
def test_help_has_an_example(cli, verb):
    result = CliRunner().invoke(cli, [verb, "--help"])
    assert result.exit_code == 0
    assert "Example" in result.output and f"softtarget {verb} results/" in result.output


def test_compare_table_markdown_csv(cli, results_dir, tmp_path):
    runner = CliRunner()
    args = ["compare", str(results_dir), "--resamples", "200", "--metrics", "killed,injured"]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "killed" in result.output and "(baseline)" in result.output
    assert "paired permutation test of the mean" in result.output
    md = runner.invoke(cli, [*args, "--format", "markdown"])
    assert md.exit_code == 0 and md.output.startswith("| outcome |")
    out = tmp_path / "c.csv"
    csv = runner.invoke(cli, [*args, "--format", "csv", "--out", str(out)])
    assert csv.exit_code == 0 and out.read_text().startswith("outcome,configuration")


def test_bad_baseline_exits_2_and_lists_configurations(cli, results_dir):
    result = CliRunner().invoke(cli, ["compare", str(results_dir), "--baseline", "nope"])
    assert result.exit_code == 2
    assert "unknown baseline 'nope'" in result.output
    assert "public_only, public_private, joint_room" in result.output


def test_bad_metric_and_missing_folder_exit_2(cli, results_dir, tmp_path):
    runner = CliRunner()
    result = runner.invoke(cli, ["compare", str(results_dir), "--metrics", "bogus"])
    assert result.exit_code == 2 and "bogus" in result.output
    result = runner.invoke(cli, ["compare", str(tmp_path / "nowhere")])
    assert result.exit_code == 2 and "does not exist" in result.output
    (results_dir / "runs.parquet").unlink()
    result = runner.invoke(cli, ["report", str(results_dir)])
    assert result.exit_code == 2 and "missing runs.parquet" in result.output


def test_plot_and_report_commands(cli, make_results, tmp_path):
    results_dir = make_results(replications=6)  # the commands' files, not their numbers
    runner = CliRunner()
    result = runner.invoke(cli, ["plot", str(results_dir), "--out", str(tmp_path / "f"), "--svg"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "f" / "distributions.svg").exists()
    assert (tmp_path / "f" / "timeseries.png").exists()
    out = tmp_path / "rep.html"
    result = runner.invoke(cli, ["report", str(results_dir), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.exists() and "data:image/png;base64," in out.read_text()


def test_compare_by_prints_one_table_per_value(cli, results_dir):
    runner = CliRunner()
    args = ["compare", str(results_dir), "--resamples", "200", "--metrics", "killed"]
    result = runner.invoke(cli, [*args, "--by", "attack_mode"])
    assert result.exit_code == 0, result.output
    assert "attack_mode = firearm" in result.output and "attack_mode = none" in result.output
    bad = runner.invoke(cli, [*args, "--by", "nope"])
    assert bad.exit_code == 2 and "unknown column 'nope'" in bad.output
