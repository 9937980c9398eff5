"""Prompts rendered from the Jinja2 templates: what each one carries, and user overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from evolve.errors import ConfigError
from evolve.llm.prompts import PromptBuilder, render_transcript, shipped_dir, trim_error
from evolve.mutators.base import ProgramView, ProposalRequest, StageView
from evolve.plugins import load_problem

SMTT = load_problem("smtt")
SEED = SMTT.initial_program
MDD = SEED.replace("    return d\n", "    return max(d, t + p)\n")


def request(parent: ProgramView | None = None, **kw: object) -> ProposalRequest:
    parent = parent or ProgramView(4, SEED, -62.34, {"score": -62.34, "gap_pct": 62.34, "_quick_score": -60.0},
                                   stages=(StageView("quick", "ok"), StageView("train", "ok")))
    return ProposalRequest(parent=parent, description=SMTT.description, entry=SMTT.entry,
                           metric_notes=SMTT.describe_metrics(), **kw)  # type: ignore[arg-type]


def user(messages: list[dict[str, str]]) -> str:
    return messages[-1]["content"]


def test_system_prompt_carries_the_description_and_the_entry_function() -> None:
    system = PromptBuilder().messages(request(), "diff")[0]
    assert system["role"] == "system"
    assert SMTT.description.strip().splitlines()[0] in system["content"]
    assert "`schedule`" in system["content"] and "EVOLVE-BLOCK-START" in system["content"]


def test_diff_prompt_carries_the_parent_code_metrics_and_format() -> None:
    text = user(PromptBuilder().messages(request(), "diff"))
    assert SEED.strip() in text
    assert "gap_pct: 62.34" in text and SMTT.describe_metrics()["gap_pct"] in text
    assert "_quick_score" not in text  # internal bookkeeping stays out
    assert "<<<<<<< SEARCH" in text and ">>>>>>> REPLACE" in text


def test_full_and_crossover_prompts_ask_for_a_fenced_program() -> None:
    insp = (ProgramView(9, MDD, -1.3, {"score": -1.3}),)
    for mode in ("full", "crossover"):
        text = user(PromptBuilder().messages(request(inspirations=insp), mode))
        assert "```python code block" in text and "<<<<<<< SEARCH" not in text
    crossover = user(PromptBuilder().messages(request(inspirations=insp), "crossover"))
    assert "return max(d, t + p)" in crossover and "score -1.3" in crossover and "Combine" in crossover


def test_recent_failures_are_listed_with_their_trimmed_errors() -> None:
    long_error = "Traceback (most recent call last):\n" + "  frame\n" * 400 + "ZeroDivisionError: division by zero"
    failures = (ProgramView(7, SEED, None, {}, "crash", long_error), ProgramView(8, SEED, None, {}, "timeout", "5 s"))
    text = user(PromptBuilder().messages(request(failures=failures), "diff"))
    assert "- crash: Traceback" in text and "ZeroDivisionError: division by zero" in text
    assert "- timeout: 5 s" in text
    assert text.count("frame") < 100


def test_fix_prompt_shows_the_failing_parent_and_where_it_failed() -> None:
    broken = ProgramView(5, SEED, None, {}, "invalid", "not a permutation",
                         (StageView("quick", "invalid", "index 3 appears twice", "q07"),))
    text = user(PromptBuilder().messages(request(broken), "fix", "diff"))
    assert "A program that fails" in text and SEED.strip() in text
    assert "split `quick`: invalid on instance q07: index 3 appears twice" in text
    assert "<<<<<<< SEARCH" in text


def test_retry_appends_the_unusable_reply_and_the_reason() -> None:
    builder = PromptBuilder()
    first = builder.messages(request(), "diff")
    retry = builder.retry(request(), first, "no idea", "the reply contains no SEARCH/REPLACE block", "diff")
    assert retry[:2] == first
    assert retry[2] == {"role": "assistant", "content": "no idea"}
    assert retry[3]["role"] == "user"
    assert "could not be used: the reply contains no SEARCH/REPLACE block" in retry[3]["content"]
    assert "<<<<<<< SEARCH" in retry[3]["content"]


def test_the_system_prompt_is_rendered_once_per_run_not_per_proposal(monkeypatch: pytest.MonkeyPatch) -> None:
    builder = PromptBuilder()
    first = builder.messages(request(), "diff")[0]["content"]
    rendered: list[str] = []
    real = builder.render
    monkeypatch.setattr(builder, "render", lambda name, **ctx: rendered.append(name) or real(name, **ctx))
    other_parent = ProgramView(9, MDD, -1.5, {"score": -1.5})
    again = builder.messages(request(other_parent), "full")
    assert again[0]["content"] == first and rendered == ["full"]


def test_a_user_system_template_that_reads_the_parent_is_rendered_every_time(tmp_path: Path) -> None:
    (tmp_path / "system.j2").write_text("Parent scored {{ parent.score | num }}.\n")
    builder = PromptBuilder(tmp_path)
    assert builder.messages(request(), "diff")[0]["content"] == "Parent scored -62.34.\n"
    other = builder.messages(request(ProgramView(9, MDD, -1.5, {"score": -1.5})), "diff")
    assert other[0]["content"] == "Parent scored -1.5.\n"


def test_a_template_in_prompts_dir_overrides_only_that_template(tmp_path: Path) -> None:
    (tmp_path / "diff.j2").write_text("Improve {{ entry }} (score {{ parent.score | num }}).\n")
    builder = PromptBuilder(tmp_path)
    assert user(builder.messages(request(), "diff")) == "Improve schedule (score -62.34).\n"
    assert SEED.strip() in user(builder.messages(request(), "full"))  # still the shipped template


def test_templates_are_read_once_per_run_not_checked_on_disk_per_proposal(tmp_path: Path) -> None:
    import os

    template = tmp_path / "diff.j2"
    template.write_text("First version for {{ entry }}.\n")
    builder = PromptBuilder(tmp_path)
    assert user(builder.messages(request(), "diff")) == "First version for schedule.\n"
    template.write_text("Edited while the run goes on.\n")
    later = template.stat().st_mtime + 60
    os.utime(template, (later, later))  # unmistakably newer
    assert user(builder.messages(request(), "diff")) == "First version for schedule.\n"
    assert user(PromptBuilder(tmp_path).messages(request(), "diff")) == "Edited while the run goes on.\n"


def test_a_missing_prompts_dir_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"prompts\.dir=.*no such folder"):
        PromptBuilder(tmp_path / "nope")


def test_a_broken_user_template_is_a_config_error_naming_it(tmp_path: Path) -> None:
    (tmp_path / "diff.j2").write_text("{{ no_such_variable }}")
    with pytest.raises(ConfigError, match=r"diff\.j2"):
        PromptBuilder(tmp_path).messages(request(), "diff")


def test_a_template_with_a_syntax_error_is_caught_before_any_work(tmp_path: Path) -> None:
    (tmp_path / "full.j2").write_text("{% if %}")
    builder = PromptBuilder(tmp_path)
    with pytest.raises(ConfigError, match=r"full\.j2, line 1"):
        builder.check()
    PromptBuilder().check()


def test_every_shipped_template_exists() -> None:
    for name in ("system", "diff", "full", "crossover", "fix", "_context"):
        assert (shipped_dir() / f"{name}.j2").is_file()


def test_the_transcript_names_each_role() -> None:
    text = render_transcript([{"role": "system", "content": "S"}, {"role": "user", "content": "U\n"}])
    assert text == "[system]\nS\n\n[user]\nU\n"


def test_trim_error_keeps_the_start_and_the_end() -> None:
    text = "A" * 1000 + "the cause"
    trimmed = trim_error(text, 100)
    assert len(trimmed) < 120 and trimmed.startswith("AAA") and trimmed.endswith("the cause")


def smtt_feedback() -> str:
    """The SMTT plugin's per-class feedback for EDD on the train split."""
    instances = SMTT.instances("train")
    metrics = [SMTT.score(i, sorted(range(len(i.args[1])), key=lambda k: i.args[1][k])) for i in instances]
    return SMTT.feedback(instances, metrics) or ""


def rich_request(**kw: object) -> ProposalRequest:
    from evolve.mutators.base import ChildView

    parent = ProgramView(4, SEED, -62.34, {"score": -62.34, "gap_pct": 62.34, "_feedback": smtt_feedback()},
                         stages=(StageView("quick", "ok", seconds=0.21, metrics={"score": -60.1, "gap_pct": 60.1}),
                                 StageView("train", "ok", seconds=0.83, metrics={"score": -62.34, "gap_pct": 62.34})),
                         idea="EDD")
    history = (ChildView(7, "MDD — dispatch by max(d, t + p)", "ok", -1.3),
               ChildView(8, "slack ratio", "crash", None, "ZeroDivisionError: division by zero"),
               ChildView(9, None, "duplicate", None, "same program as #7"),
               ChildView(10, "SPT", "ok", -70.0))
    insp = (ProgramView(11, MDD, -1.3, {"score": -1.3, "gap_pct": 1.3}, idea="MDD — dispatch by max(d, t + p)"),)
    return request(parent, history=history, inspirations=insp, **kw)


def test_the_prompt_says_what_evolves_and_what_is_fixed() -> None:
    text = user(PromptBuilder().messages(rich_request(), "diff"))
    assert "What evolves: the code between the EVOLVE-BLOCK markers, which defines `priority`." in text
    assert "What is fixed: everything outside the markers, including `schedule` (the entry point" in text


def test_the_prompt_carries_each_splits_metrics_run_time_and_per_class_feedback() -> None:
    text = user(PromptBuilder().messages(rich_request(), "full"))
    assert "- `quick`: ok, gap_pct 60.1, score -60.1, 0.21 s" in text
    assert "- `train`: ok, gap_pct 62.34, score -62.34, 0.83 s" in text
    assert "Where it loses: gap per due-date class" in text and "tf0.6-rdd" in text and "_feedback" not in text


def test_the_prompt_lists_the_parents_children_with_ideas_score_changes_and_failures() -> None:
    text = user(PromptBuilder().messages(rich_request(), "diff"))
    assert '- #7 "MDD — dispatch by max(d, t + p)": score -1.3 (+61.04, better)' in text
    assert '- #8 "slack ratio": crash: ZeroDivisionError: division by zero' in text
    assert "- #9 (no idea given): duplicate: same program as #7" in text
    assert '- #10 "SPT": score -70 (-7.66, worse)' in text
    assert "NAME:" in text and "IDEA:" in text


def test_inspirations_come_with_their_metrics_and_ideas() -> None:
    text = user(PromptBuilder().messages(rich_request(), "crossover"))
    assert "## Program #11 (score -1.3): MDD — dispatch by max(d, t + p)" in text
    assert "gap_pct 1.3, score -1.3" in text and "return max(d, t + p)" in text


def test_the_search_replace_example_is_built_from_the_current_program_and_applies_to_it() -> None:
    from evolve.edit.diff import apply_reply

    text = user(PromptBuilder().messages(rich_request(), "diff"))
    example = text[text.index("<<<<<<< SEARCH", text.index("For example")):text.index(">>>>>>> REPLACE",
                                                                                       text.index("For example"))]
    assert "    return d\n" in example
    assert apply_reply(SEED, example + ">>>>>>> REPLACE\n").code != SEED


def test_an_over_long_prompt_drops_the_oldest_history_first_then_inspirations() -> None:
    system, full = (m["content"] for m in PromptBuilder().messages(rich_request(), "diff"))
    tokens = (len(system) + len(full) - 40) // 4  # a little under what the whole prompt needs
    text = user(PromptBuilder(max_tokens=tokens).messages(rich_request(), "diff"))
    assert "- #7 " not in text and "- #8 " in text and '- #10 "SPT"' in text and "## Program #11" in text
    tokens = (len(system) + len(full) - 1200) // 4
    tighter = user(PromptBuilder(max_tokens=tokens).messages(rich_request(), "diff"))
    assert "Earlier changes" not in tighter and "## Program #11" not in tighter and SEED.strip() in tighter
