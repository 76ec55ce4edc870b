"""The pages that benchmarks write: sections kept across regenerations, the prior-search verdict."""

from __future__ import annotations

import json
from pathlib import Path

from benchmark_scripts import load_benchmark


def test_write_page_keeps_other_benchmarks_sections(tmp_path: Path) -> None:
    report = load_benchmark("_report")
    page = tmp_path / "ablation.md"
    report.write_page(page, "# Old table\n")
    report.write_section(page, "prior-search", "search summary v1")
    report.write_section(page, "prior-search", "search summary v2")  # replaced, not appended
    report.write_page(page, "# New table\n", keep=("prior-search", "absent"))
    text = page.read_text()
    assert text.startswith("# New table\n")
    assert "Old table" not in text and "v1" not in text
    assert text.count("search summary v2") == 1
    # without keep, a regeneration drops the section
    report.write_page(page, "# Newer table\n")
    assert page.read_text() == "# Newer table\n"


def test_bar_section_verdict_follows_the_gains() -> None:
    search = load_benchmark("prior_search")
    below = {"ICVL": [("`a`", 0.0398, 0.0405), ("`b`", 0.0462, 0.0463)]}
    text = search.bar_section(below)
    assert "No setting reaches the bar: in 2 runs" in text
    assert "| ICVL | 2 | 2 | -1.7 % (`a`) | -0.2 % (`b`) | 0 |" in text
    reached = {"CAVE": [("`c`", 0.094, 0.100), ("`d`", 0.120, 0.100)], "ICVL": []}
    text = search.bar_section(reached)
    assert "**1 of 2 settings reach the bar.**" in text
    assert "| CAVE | 2 | 1 | -6.0 % (`c`) | +20.0 % (`d`) | 1 |" in text
    assert "| ICVL |" not in text  # a protocol without runs has no row


def test_seed_reading_compares_seeds_and_the_prior_seed_by_seed() -> None:
    search = load_benchmark("prior_search")

    def run(name: str, final: float) -> dict:
        return {"name": name, "metric": "mrae", "curve": {"4000": 0.05, "8000": final}}

    (none0, none1), (frozen0, frozen1), (tuned0, _) = (s[1:] for s in search.ICVL_SEEDS[8000])
    runs = [run(none0, 0.0400), run(none1, 0.0410), run(frozen0, 0.0380), run(frozen1, 0.0400)]
    runs.append(run(tuned0, 0.0300))
    text = " ".join(search.seed_reading(runs))
    assert "Seeds, 8000 steps" in text and "16000 steps" not in text
    assert "no prior 0.0400 and 0.0410 (+2.5 %)" in text
    assert "prior frozen: -5.0 % with seed 0, -2.4 % with seed 1, -3.7 % on the mean" in text
    assert "fine-tuned" not in text  # a setting without its seed-1 run is left out
    assert search.seed_reading(runs[2:]) == []  # nothing to read without the no-prior pair
    notes = search.seed_reading(runs)
    section = search.bar_section({"ICVL": [("`a`", 0.0398, 0.0405)]}, notes=notes)
    assert section.rstrip().endswith(notes[-1])


def test_context_note_counts_the_prior_tokens_of_each_recipe(tmp_path: Path) -> None:
    search = load_benchmark("prior_search")
    (tmp_path / "icvl_strips").mkdir()
    index = [{"scene": f"s{i}", "rows": rows} for i, rows in enumerate((12, 9, 19))]
    (tmp_path / "icvl_strips" / "index.json").write_text(json.dumps(index))
    heights = search.strip_heights(tmp_path)
    assert heights == [12, 9, 19]
    note = search.context_note(heights, token=8)
    assert "9-19 rows high (median 12" in note
    # recipes/mae_ktsr_ntire.yaml: 8x64 training and 8x128 validation patches
    assert "trains on 8x64 px, 1x8 tokens and validates on 8x128 px, 1x16 tokens" in note
    # recipes/mae_ktsr_cave.yaml: 64x64 training patches, whole validation scenes
    assert "CAVE trains on 64x64 px, 8x8 tokens and validates on whole 256x256" in note
    assert "trains on 8x64 px, 2x16 tokens" in search.context_note(heights, token=4)


def test_prior_gains_pair_each_run_with_its_twin() -> None:
    search = load_benchmark("prior_search")

    def run(name: str, round_: int, curve: dict[str, float]) -> dict:
        return {"name": name, "round": round_, "metric": "mrae", "curve": curve}

    cave = [
        run("mae_ktsr_cave_noprior", 1, {"3500": 0.150}),
        run("mae_ktsr_cave_frozen", 1, {"3500": 0.180}),
        # round 2 has no no-prior flat run: the round-1 one is its twin
        run("mae_ktsr_cave", 2, {"3500": 0.141}),
    ]
    icvl = [
        run("mae_ktsr_ntire_noprior_16k", 4, {"8000": 0.044, "16000": 0.0405}),
        run("mae_ktsr_ntire_16k", 4, {"12000": 0.0398, "16000": 0.0404}),
    ]
    gains = search.prior_gains(cave, icvl, 3500)
    cave_rows, icvl_rows = gains.values()
    assert cave_rows == [
        ("`mae_ktsr_cave_frozen`, round 1", 0.180, 0.150),
        ("`mae_ktsr_cave`, round 2", 0.141, 0.150),
    ]
    # ICVL runs are compared at the end of their schedule, not at their best validation
    assert icvl_rows == [("`mae_ktsr_ntire_16k`", 0.0404, 0.0405)]


def test_token_reading_compares_the_small_token_prior_with_both_twins() -> None:
    search = load_benchmark("prior_search")
    config = "model:\n  args:\n    prior_args: {patch_size: 4}\n"

    def run(name: str, final: float) -> dict:
        curve = {"4000": 0.05, "8000": final}
        return {"name": name, "metric": "mrae", "curve": curve, "config": config}

    runs = [
        run("mae_ktsr_ntire_noprior_8k", 0.0445),
        run("mae_ktsr_ntire_8k", 0.0438),
        {**run("mae_ktsr_ntire_p4_8k", 0.0430), "train_minutes": 25.0},
    ]
    (text,) = search.token_reading(runs)
    assert "does not reach the 5 %" in text
    assert "4x4-px tokens" in text and "as 2 token rows" in text  # 8-row patches
    assert "0.0430 at step 8000, against 0.0445 without a prior (-3.4 %)" in text
    assert "and 0.0438 with the 8x8-token prior (-1.8 %); 25.0 min" in text
    assert "75.7 GFLOPs" in text  # measured on the model, not copied
    assert "RGB-only" not in text  # no prior scores given
    runs.append({"name": "s2mae_ntire_p4", "metric": "loss", "rgb_only_mrae": 0.127})
    (text,) = search.token_reading(runs, {"s2mae.ntire2020": 0.240})
    assert "(RGB-only ICVL val MRAE 0.127 against 0.240), yet stage 2 gains no more" in text
    runs[2]["curve"]["8000"] = 0.0420
    assert "reaches the 5 %" in search.token_reading(runs)[0]
    assert search.token_reading(runs[:2]) == []  # not run yet: nothing to read


def test_cave_corpus_reading_sets_the_corpus_prior_against_its_twin_and_the_others() -> None:
    search = load_benchmark("prior_search")
    machine = "the 2-core development CPU"

    def run(name: str, final: float) -> dict:
        curve = {"3500": final + 0.001, "4000": final}
        return {"name": name, "metric": "mrae", "curve": curve, "machine": machine}

    runs = [run("mae_ktsr_cave_noprior_cpu", 0.1200), run("mae_ktsr_cave_corpus", 0.1164)]
    (text,) = search.cave_corpus_reading(runs)
    assert "does not reach the 5 %" in text
    assert "0.1164 at step 4000, against 0.1200 without a prior (-3.0 %), both trained on " in text
    assert "By itself" not in text  # no RGB-only score of the prior recorded
    assert "the same no-prior recipe scored" not in text  # no GPU run recorded
    gpu = {**run("mae_ktsr_cave_noprior_lr3e3", 0.1156), "machine": "one GPU", "round": 4}
    (text,) = search.cave_corpus_reading([*runs, gpu])
    assert "(the same no-prior recipe scored 0.1156 on one GPU, round 4: +3.8 % here)." in text
    seed1 = run("mae_ktsr_cave_noprior_cpu_s1", 0.1250)
    (text,) = search.cave_corpus_reading([*runs, seed1])
    spread = "seed 1 instead of 0 scores 0.1250 (+4.2 %): the spread between two runs of one"
    assert f"{spread} setting, larger than the prior's effect." in text
    prior1 = {**run("mae_ktsr_cave_corpus_s1", 0.1240), "round": 5}
    (text,) = search.cave_corpus_reading([*runs, seed1, prior1])
    assert (
        "With the prior, seed 1 scores 0.1240 (-0.8 % against seed 1 without); over the two "
        "seeds, 0.1202 against 0.1225 (-1.9 %)." in text
    )
    # the search table and the bar compare a seed-1 run with the seed-1 run without a prior
    twin = search.cave_twins([{**r, "round": 5} for r in (*runs, seed1)] + [prior1])
    assert twin(prior1)["name"] == "mae_ktsr_cave_noprior_cpu_s1"
    assert twin({**runs[1], "round": 5})["name"] == "mae_ktsr_cave_noprior_cpu"
    seed1["curve"]["4000"] = 0.1210
    assert search.cave_corpus_reading([*runs, seed1])[0].endswith("of one setting.")
    prior = {"name": search.CAVE_CORPUS_PRIOR, "metric": "loss", "steps": 2500}
    runs.append({**prior, "rgb_only_mrae": 0.172})
    (text,) = search.cave_corpus_reading(runs)
    assert "pretrains the S²-MAE for 2500 steps" in text
    assert text.endswith("reconstructs CAVE val from RGB at MRAE 0.172.")
    runs.append({"name": search.CAVE_CORPUS_RELIT, "metric": "loss", "rgb_only_mrae": 0.204})
    published = {"s2mae.cave": 0.172, "root_poly3.cave": 0.186, "mst_plus_plus.cave": 0.1}
    (text,) = search.cave_corpus_reading(runs, published)
    assert "MRAE 0.172, against 0.204 with the CAVE scenes relit" in text
    assert "scenes relit per patch by measured illuminants instead (relit" in text
    assert "; 0.186 for the closed-form `root_poly3.cave`." in text
    assert "replaced" not in text and "mst_plus_plus" not in text
    replaced = {"what": "19 scenes alone", "rgb_only_mrae": {"16": 0.713, "8": 0.377}}
    (text,) = search.cave_corpus_reading(runs, published, {"s2mae.cave": replaced})
    assert "; 0.713 for the S²-MAE it replaced as `s2mae.cave` (19 scenes alone; 0.377 with" in text
    assert "These runs are" not in text  # none published yet
    runs[-2]["published_as"] = "s2mae.cave"
    runs[1]["published_as"] = "mae_ktsr.cave"
    (text,) = search.cave_corpus_reading(runs, published)
    assert text.endswith("These runs are the published `s2mae.cave`, `mae_ktsr.cave`.")
    runs[1]["curve"]["4000"] = 0.1100
    assert "reaches the 5 %" in search.cave_corpus_reading(runs)[0]
    assert search.cave_corpus_reading(runs[1:]) == []  # no twin: nothing to read


def test_window_reading_sets_the_windows_and_the_corpus_prior_record_side_by_side() -> None:
    search = load_benchmark("prior_search")
    scores = {
        "s2mae.cave @16": 0.2301,
        "s2mae.cave @8": 0.1716,
        "s2mae.ntire2020 @16": 0.2400,
        "s2mae.ntire2020 @8": 0.1568,
        "mae_ktsr.cave @16": 0.10871,
        "mae_ktsr.cave @8": 0.10866,
        "mae_ktsr.ntire2020 @16": 0.039831,
        "mae_ktsr.ntire2020 @8": 0.039830,
    }
    (text,) = search.window_reading(scores, [])
    assert "drops from 0.240 to 0.157 (`s2mae.ntire2020`, ICVL val); today's" in text
    assert "today's `s2mae.cave`, a new prior, scores 0.172 with them and 0.230 with 16." in text
    assert "scores 0.1087 with 8-token windows in its frozen prior and 0.1087 with 16" in text
    assert "and `mae_ktsr.ntire2020` 0.0398 and 0.0398 (its frozen copy" in text
    assert "turned up early" not in text  # no corpus prior recorded yet
    replaced = {"until": "2026-11-29", "rgb_only_mrae": {"16": 0.7131, "8": 0.3773}}
    (text,) = search.window_reading(scores, [], {"s2mae.cave": replaced})
    assert "ICVL val) and from 0.713 to 0.377 (the S²-MAE published as `s2mae.cave` until" in text
    prior = {
        "name": search.CAVE_CORPUS_PRIOR,
        "metric": "loss",
        "curve": {"500": 0.0383, "1000": 0.0498, "2500": 0.0618},
        "rgb_only_curve": {"500": 0.41, "2000": 0.19, "2500": 0.172},
    }
    (text,) = search.window_reading(scores, [prior])
    assert "lowest at step 500 (0.0383) and 0.0618 at step 2500" in text
    assert "fell from 0.410 at step 500 to 0.172 at step 2500" in text
    assert text.endswith("the Trainer warns about a wider one.")


def test_equal_compute_reading_sets_mst_against_both_seeds() -> None:
    search = load_benchmark("prior_search")

    def run(name: str, last: float, steps: int = 4000) -> dict:
        curve = {"500": 0.2, str(steps): last}
        return {"name": name, "metric": "mrae", "round": 6, "steps": steps, "curve": curve}

    gflops = {"mae_ktsr.cave": 34.3, "mst_plus_plus.cave": 177.5}
    published = {"mae_ktsr.cave": 0.1087, "mst_plus_plus.cave": 0.1008}
    ours = [
        run("mae_ktsr_cave_corpus", 0.1087),
        run("mae_ktsr_cave_corpus_s1", 0.1070),
        run("mae_ktsr_cave_noprior_cpu", 0.1082),
        run("mae_ktsr_cave_noprior_cpu_s1", 0.1101),
    ]
    # no MST++ run recorded: no line (the ICVL entry has none either)
    assert search.equal_compute_reading(ours, gflops, published) == []
    (line,) = search.equal_compute_reading(
        [*ours, run("mst_plus_plus_cave_eqflop", 0.1200, steps=773)], gflops, published
    )
    assert "CAVE val" in line and "MAE-KTSR is ahead with every seed" in line
    assert "773 steps" in line and "177.5 GFLOPs" in line and "4000 x 34.3" in line
    assert "0.1087 and 0.1070 for MAE-KTSR (seeds 0, 1; mean 0.1079, -10.1 %)" in line
    assert "Trained for the same number of steps, MST++ leads" in line
    assert "min of training" not in line  # the runs record no training time here
    assert "The lead is the reconstructor's, not the prior's" in line
    (line,) = search.equal_compute_reading(
        [*ours, run("mst_plus_plus_cave_eqflop", 0.1075, steps=773)], gflops, published
    )
    assert "ahead with some seeds, not all" in line and "The lead is" not in line
    (line,) = search.equal_compute_reading(
        [*ours, run("mst_plus_plus_cave_eqflop", 0.1000, steps=773)], gflops, published
    )
    assert "MST++ is ahead of every seed" in line


def test_round6_reading_sets_each_experiment_against_its_twin() -> None:
    search = load_benchmark("prior_search")

    def run(name: str, curve: dict[str, float]) -> dict:
        return {"name": name, "metric": "mrae", "round": 6, "steps": 4000, "curve": curve}

    base = [
        run("mae_ktsr_cave_noprior_cpu", {"500": 0.173, "4000": 0.1082}),
        run("mae_ktsr_cave_corpus", {"500": 0.179, "4000": 0.1087}),
    ]
    assert search.round6_reading(base, {}) == []
    residual = run("mae_ktsr_cave_prior_residual", {"500": 0.151, "4000": 0.1284})
    (line,) = search.round6_reading([*base, residual], {"s2mae.cave": 0.1716})
    assert "residual does not reach the 5 %" in line and "(CAVE val MRAE 0.172 by itself)" in line
    assert "0.1510 at step 500 against 0.1730" in line and "+18.7 %" in line
    few = [
        run("mae_ktsr_cave_4scenes", {"4000": 0.150}),
        run("mae_ktsr_cave_noprior_4scenes", {"4000": 0.160}),
    ]
    (line,) = search.round6_reading([*base, *few], {})
    assert "With scarce paired data the prior reaches the 5 %" in line
    assert "0.1500 at step 4000 against 0.1600 (-6.2 %)" in line
    assert "with all 19 scenes the pair scores 0.1087 and 0.1082" in line


def test_round7_reading_sets_each_fine_tuned_prior_against_both_twins() -> None:
    search = load_benchmark("prior_search")

    def run(name: str, last: float, minutes: float) -> dict:
        return {
            "name": name,
            "metric": "mrae",
            "round": 7,
            "steps": 4000,
            "curve": {"500": 0.18, "4000": last},
            "train_minutes": minutes,
        }

    base = [
        run("mae_ktsr_cave_noprior_cpu", 0.1082, 50.0),
        run("mae_ktsr_cave_corpus", 0.1087, 60.0),
    ]
    assert search.round7_reading(base, {}) == []
    # without the frozen run there is nothing to set the fine-tuned one against
    alone = [base[0], run("mae_ktsr_cave_corpus_ft01", 0.1, 70.0)]
    assert search.round7_reading(alone, {}) == []
    lines = search.round7_reading(
        [
            *base,
            run("mae_ktsr_cave_corpus_ft03", 0.1100, 75.0),
            run("mae_ktsr_cave_corpus_ft01", 0.1020, 70.0),
        ],
        {"mst_plus_plus.cave": 0.1008},
    )
    assert len(lines) == 2  # 0.1x first, whatever the record's order
    assert "at 0.1x the learning rate reaches the 5 %" in lines[0]
    assert "0.1020 at step 4000, against 0.1082 without a prior (-5.7 %)" in lines[0]
    assert "and 0.1087 with it frozen; 70.0 min of training against 50.0" in lines[0]
    assert "scores 0.1008 (+1.2 % for this run)" in lines[0]
    assert "at 0.3x the learning rate does not reach the 5 %" in lines[1]
    assert "(+1.7 %)" in lines[1]
    # the RGB-only-probability prior needs its stage-1 run in the record as well
    frozen_rgb_only = run("mae_ktsr_cave_corpus_rgbonly", 0.1090, 60.0)
    assert search.round7_reading([*base, frozen_rgb_only], {}) == []
    priors = [
        {"name": "s2mae_cave_corpus", "metric": "loss", "steps": 2500, "rgb_only_mrae": 0.1716},
        {
            "name": "s2mae_cave_corpus_rgbonly",
            "metric": "loss",
            "steps": 2500,
            "rgb_only_mrae": 0.1650,
        },
    ]
    (line,) = search.round7_reading([*base, frozen_rgb_only, *priors], {})
    assert "mostly in RGB-only mode does not reach the 5 %" in line
    assert "at MRAE 0.165, against 0.172 for the corpus prior" in line
    assert "0.1090 at step 4000, against 0.1082 without a prior (+0.7 %) and 0.1087" in line
