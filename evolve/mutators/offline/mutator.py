"""The offline mutator: evolution without an LLM, by AST operators on the code inside EVOLVE-BLOCKs.

Operators: perturb a numeric constant; swap an arithmetic or comparison operator or min/max; replace a
sub-expression with a random expression over the names in scope; wrap an expression in max/min/abs
with another; combine an expression with a sum, difference or product of two names under max/min; splice an expression or statement from an inspiration program (crossover). Generic: it
knows nothing about any problem. Seeded by the `random.Random` it is given; always returns code that
compiles (or reports that it could not find a change).

A child reads only names bound where it reads them, and where an expression may be a numpy array it is
wrapped with `np.maximum`/`np.minimum`/`np.abs`, never with `max`/`min`/`abs` (facts.py says how that
is known); a change that adds such a hazard to the block is thrown away and another one is tried.
"""

from __future__ import annotations

import ast
import random
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from evolve.edit.blocks import BlockError, find_blocks, replace_blocks
from evolve.mutators.base import Mutator, Proposal, ProposalRequest
from evolve.mutators.offline.facts import BlockFacts, module_names, numpy_alias
from evolve.mutators.offline.operators import OPERATORS, apply_operator

#: how often each operator is drawn (crossover's weight is offline.crossover_rate when there are donors);
#: combine's weight is measured in evolve/conf/search/evolution.yaml
WEIGHTS = {"constant": 0.3, "operator": 0.15, "replace": 0.2, "wrap": 0.25, "combine": 0.15, "crossover": 0.1}


#: search.max_seconds when the config leaves it unset: the offline demo's cap (an LLM run has none: its
#: iterations and llm.max_cost_usd bound it, and a cap would cancel calls already paid for)
OFFLINE_MAX_SECONDS = 100.0


class OfflineMutator(Mutator):
    """Proposes children by AST mutation; answers at once (no I/O), fixes nothing, reads no history."""

    name = "offline"
    default_max_seconds = OFFLINE_MAX_SECONDS

    def __init__(self, crossover_rate: float = 0.15, max_tries: int = 20, max_steps: int = 3,
                 step_prob: float = 0.5, max_nodes: int | None = None) -> None:
        self.crossover_rate = crossover_rate
        self.max_tries = max_tries
        self.max_steps = max(1, int(max_steps))
        self.step_prob = step_prob
        #: a mutation may not grow an EVOLVE-BLOCK past this many AST nodes (None: no limit)
        self.max_nodes = max_nodes

    async def propose(self, request: ProposalRequest, rng: random.Random) -> Proposal:
        return self.mutate(request.parent_code, [i.code for i in request.inspirations], rng)

    def mutate(self, code: str, donors: Sequence[str], rng: random.Random) -> Proposal:
        """A mutated child of `code`: one operator application, plus each further one (up to max_steps)
        with probability step_prob; `donors` feed crossover."""
        steps = 1
        while steps < self.max_steps and rng.random() < self.step_prob:
            steps += 1
        try:
            program = ast.parse(code)
        except SyntaxError:
            program = None
        env = _Env(numpy_alias(program), frozenset(module_names(program)))
        if env.np is not None:  # later steps judge hazards with the arrays the parent shows, not only theirs
            env = _Env(env.np, env.outer, _array_args(code, env))
        child = self._mutate_once(code, donors, rng, env)
        if steps == 1 or child.code is None:
            return child
        edits, kinds = [child.edit], [child.edit_kind]
        for _ in range(steps - 1):
            nxt = self._mutate_once(child.code, donors, rng, env)  # type: ignore[arg-type]
            if nxt.code is None:
                break
            if nxt.code == code:  # this step undid the earlier ones: keep the child it was applied to
                continue
            child = nxt
            edits.append(nxt.edit)
            kinds.append(nxt.edit_kind)
        if len(edits) == 1:
            return child
        ops = "+".join(k.removeprefix("offline:") for k in kinds)
        return Proposal(code=child.code, edit="; ".join(edits), edit_kind=f"offline:{ops}", model=self.name)

    def _mutate_once(self, code: str, donors: Sequence[str], rng: random.Random, env: _Env | None = None
                     ) -> Proposal:
        """One operator application to `code`."""
        env = env or _Env(None, frozenset())
        try:
            blocks = find_blocks(code)
        except BlockError as exc:
            return Proposal(code=None, edit="", edit_kind="offline", model=self.name, status="parse_error",
                            error=str(exc))
        weights = [WEIGHTS[op] for op in OPERATORS]
        weights[OPERATORS.index("crossover")] = self.crossover_rate if donors else 0.0
        last_error = "no applicable mutation"
        for _ in range(self.max_tries):
            op = rng.choices(OPERATORS, weights=weights)[0]
            bi = rng.randrange(len(blocks))
            text = blocks[bi].text
            indent = _indent_of(text)
            try:
                tree = ast.parse(textwrap.dedent(text))
            except SyntaxError as exc:
                return Proposal(code=None, edit="", edit_kind=op, model=self.name, status="parse_error",
                                error=f"EVOLVE-BLOCK {bi} is not valid Python on its own: {exc}")
            donor_trees = _donor_trees(donors) if op == "crossover" else []
            before = tree_size(tree) if self.max_nodes is not None else 0
            facts = BlockFacts(tree, env.np, env.outer, env.arrays)
            desc = apply_operator(op, tree, donor_trees, rng, facts)
            if desc is None:
                continue
            if BlockFacts(tree, env.np, env.outer, env.arrays).hazards > facts.hazards:
                last_error = "every change read an unbound name or used an array as a truth value"
                continue
            # counted on the code as written: a negative constant reads back as a unary minus (two more nodes)
            if self.max_nodes is not None and tree_size(ast.parse(ast.unparse(tree))) > max(self.max_nodes, before):
                last_error = f"every change grew the block past offline.max_nodes={self.max_nodes} AST nodes"
                continue
            ast.fix_missing_locations(tree)
            new_text = textwrap.indent(ast.unparse(tree) + "\n", indent)
            texts = [b.text for b in blocks]
            if new_text.strip() == text.strip():
                continue
            texts[bi] = new_text
            child = replace_blocks(code, texts)
            try:
                compile(child, "candidate.py", "exec")
            except (SyntaxError, ValueError) as exc:
                last_error = str(exc)
                continue
            return Proposal(code=child, edit=desc, edit_kind=f"offline:{op}", model=self.name)
        return Proposal(code=None, edit="", edit_kind="offline", model=self.name, status="parse_error",
                        error=f"the offline mutator found no valid change: {last_error}")


@dataclass(frozen=True)
class _Env:
    """What a block's program provides around it: numpy's alias and the module-level names."""

    np: str | None
    outer: frozenset[str]
    #: function name -> its arguments that may hold arrays in the parent (a step that drops the use that
    #: showed it, `len(bins)`, does not make the next step forget it)
    arrays: Mapping[str, frozenset[str]] = field(default_factory=dict)


def _array_args(code: str, env: _Env) -> dict[str, frozenset[str]]:
    out: dict[str, frozenset[str]] = {}
    try:
        for b in find_blocks(code):
            out.update(BlockFacts(ast.parse(textwrap.dedent(b.text)), env.np, env.outer).array_args)
    except (BlockError, SyntaxError):
        pass
    return out


def tree_size(tree: ast.AST) -> int:
    """Number of AST nodes in `tree`: the measure `max_nodes` bounds so that mutations cannot bloat a block."""
    return sum(1 for _ in ast.walk(tree))


def _indent_of(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line[: len(line) - len(line.lstrip())]
    return ""


def _donor_trees(donors: Sequence[str]) -> list[ast.Module]:
    trees = []
    for code in donors:
        try:
            for b in find_blocks(code):
                trees.append(ast.parse(textwrap.dedent(b.text)))
        except (BlockError, SyntaxError):
            continue
    return trees
