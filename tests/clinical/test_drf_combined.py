# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""The combined DRF of record (:mod:`scripts.clinical.drf_combined`): the weighted mean and its interval on built
numbers, a missing Patlak value, unusable standard deviations, one kidney, clipping, the calibration fit,
``report.json`` / ``report.png`` / the summary line / ``cohort.csv`` on a tiny simulated study, and the validation's
columns and summary."""

from __future__ import annotations

import contextlib
import io
import json
import math
import shutil
import tempfile
import unittest
from pathlib import Path
from unittest import mock

import numpy as np
from parameterized import parameterized

from scripts.clinical.drf_combined import (
    COMBINED_CALIBRATION,
    combine_drf,
    combined_sigma,
    fit_combined_calibration,
    inverse_variance_weights,
)
from scripts.clinical.drf_interval import Z95, DRFInterval, drf_text, interval_sigmas
from scripts.clinical.interval_validation import interval_markdown_table, interval_row, interval_summary
from tests.clinical.renal_fixtures import HAVE_SIMULATOR, simulate

if HAVE_SIMULATOR:
    from tests.clinical.test_drf_interval import analyse, simulated


def drf(integral: float | None, patlak: float | None) -> dict:
    def entry(v):
        return {"left": v, "right": None if v is None else 100.0 - v}

    return {"integral": entry(integral), "patlak": entry(patlak), "parenchyma_integral": entry(integral)}


def interval(s_int: float | None, s_pat: float | None) -> DRFInterval:
    return DRFInterval(sigmas={"integral": {"total": s_int}, "patlak": {"total": s_pat}},
                       ci95={"integral": {"left": [36.0, 44.0], "right": [56.0, 64.0]},
                             "patlak": {"left": [42.0, 58.0], "right": [42.0, 58.0]}})


class TestCombination(unittest.TestCase):
    def test_weighted_mean_and_interval_on_built_numbers(self):
        # s_i = 1, s_p = 2: weights 1 : 1/4 -> 0.8 / 0.2; centre 0.8 * 40 + 0.2 * 50 = 42
        for rho in (0.0, 0.5):
            c = combine_drf(drf(40.0, 50.0), interval(1.0, 2.0), rho=rho)
            self.assertAlmostEqual(c.weights["integral"], 0.8)
            self.assertAlmostEqual(c.weights["patlak"], 0.2)
            self.assertAlmostEqual(c.left, 42.0)
            self.assertAlmostEqual(c.right, 58.0)
            s_c = math.sqrt(0.64 * 1.0 + 0.04 * 4.0 + 2 * rho * 0.8 * 0.2 * 1.0 * 2.0)
            self.assertAlmostEqual(c.sigma, s_c)
            self.assertEqual(c.left_ci95, [round(42.0 - Z95 * s_c, 2), round(42.0 + Z95 * s_c, 2)])
            self.assertEqual(c.right_ci95, [round(100 - c.left_ci95[1], 2), round(100 - c.left_ci95[0], 2)])
            self.assertEqual(c.note, "")
        # independent errors make the combination narrower than the better method alone
        self.assertLess(combine_drf(drf(40.0, 50.0), interval(1.0, 2.0), rho=0.0).sigma, 1.0)

    def test_default_rho_is_the_calibration(self):
        a = combine_drf(drf(40.0, 50.0), interval(1.0, 2.0))
        b = combine_drf(drf(40.0, 50.0), interval(1.0, 2.0), rho=COMBINED_CALIBRATION["rho"])
        self.assertEqual(a, b)

    def test_json_fields(self):
        out = combine_drf(drf(40.0, 50.0), interval(1.0, 2.0)).as_json()
        self.assertEqual(set(out), {"left", "right", "left_ci95", "right_ci95", "weights"})
        self.assertEqual(set(out["weights"]), {"integral", "patlak"})
        self.assertAlmostEqual(sum(out["weights"].values()), 1.0)

    @parameterized.expand([
        ("patlak_missing", None, 2.0),
        ("patlak_nan", float("nan"), 2.0),
        ("patlak_sigma_nan", 50.0, float("nan")),
        ("patlak_sigma_zero", 50.0, 0.0),
        ("patlak_sigma_missing", 50.0, None),
    ])
    def test_patlak_unusable_gives_the_integral(self, _name, patlak, s_pat):
        c = combine_drf(drf(40.0, patlak), interval(1.0, s_pat))
        self.assertEqual(c.weights, {"integral": 1.0, "patlak": 0.0})
        self.assertEqual((c.left, c.right), (40.0, 60.0))
        self.assertAlmostEqual(c.sigma, 1.0)  # the integral's own sigma: rho has no weight to act on
        self.assertEqual(c.left_ci95, [round(40 - Z95, 2), round(40 + Z95, 2)])
        self.assertIn("only integral", c.note)

    def test_integral_unusable_gives_patlak(self):
        c = combine_drf(drf(40.0, 50.0), interval(float("nan"), 2.0))
        self.assertEqual(c.weights, {"integral": 0.0, "patlak": 1.0})
        self.assertEqual(c.left, 50.0)

    def test_no_usable_sigma_copies_the_integral(self):
        c = combine_drf(drf(40.0, 50.0), interval(float("nan"), 0.0))
        self.assertEqual((c.left, c.left_ci95, c.right_ci95), (40.0, [36.0, 44.0], [56.0, 64.0]))
        self.assertEqual(c.weights, {"integral": 1.0, "patlak": 0.0})

    @parameterized.expand([
        ("degenerate", [100.0, 100.0], [0.0, 0.0]),
        ("probability_stretched", [80.0, 100.0], [0.0, 20.0]),
    ])
    def test_one_kidney_copies_the_methods_interval(self, _name, left_ci, right_ci):
        one = {m: {"left": 100.0, "right": 0.0} for m in ("integral", "patlak", "parenchyma_integral")}
        iv = DRFInterval(ci95={m: {"left": left_ci, "right": right_ci} for m in ("integral", "patlak")},
                         note="one kidney found")
        c = combine_drf(one, iv)
        self.assertEqual((c.left, c.right, c.left_ci95, c.right_ci95), (100.0, 0.0, left_ci, right_ci))
        self.assertEqual(c.weights, {"integral": 1.0, "patlak": 0.0})
        self.assertEqual(drf_text(c.as_json(), "left"), "100.0" if left_ci[0] == 100 else "100.0 (80.0-100.0)")

    def test_clipped_to_0_100(self):
        c = combine_drf(drf(99.0, 99.5), interval(2.0, 2.0))
        self.assertEqual(c.left_ci95[1], 100.0)
        self.assertEqual(c.right_ci95[0], 0.0)
        low = combine_drf(drf(0.5, 1.0), interval(2.0, 2.0))
        self.assertEqual(low.left_ci95[0], 0.0)

    def test_weights_and_sigma_helpers(self):
        self.assertEqual(inverse_variance_weights({"integral": None, "patlak": float("inf")}),
                         {"integral": 0.0, "patlak": 0.0})
        w = inverse_variance_weights({"integral": 3.0, "patlak": 3.0})
        self.assertEqual(w, {"integral": 0.5, "patlak": 0.5})
        # perfectly correlated errors (rho = 1): no gain from averaging two equal sigmas
        self.assertAlmostEqual(combined_sigma(w, {"integral": 3.0, "patlak": 3.0}, 1.0), 3.0)
        self.assertAlmostEqual(combined_sigma(w, {"integral": 3.0, "patlak": 3.0}, 0.0), 3.0 / math.sqrt(2))


class TestFit(unittest.TestCase):
    def test_narrowest_rho_reaching_the_target(self):
        rng = np.random.default_rng(4)
        rows = []
        for _ in range(400):  # errors drawn with rho = 0.6 between the methods' errors
            s_i, s_p = float(rng.uniform(1, 3)), float(rng.uniform(1, 4))
            w_p = (1 / s_p**2) / (1 / s_i**2 + 1 / s_p**2)
            cov = [[s_i**2, 0.6 * s_i * s_p], [0.6 * s_i * s_p, s_p**2]]
            e_i, e_p = rng.multivariate_normal([0, 0], cov)
            rows.append({"drf_error_combined": (1 - w_p) * e_i + w_p * e_p, "ci_integral_total": s_i,
                         "ci_patlak_total": s_p, "ci_combined_weight_patlak": w_p})
        rows.append({"drf_error_combined": 50.0, "ci_integral_total": 1.0, "ci_patlak_total": float("nan"),
                     "ci_combined_weight_patlak": 0.0})  # one method only: does not depend on rho, left out
        fit = fit_combined_calibration(rows)
        self.assertEqual(fit["n"], 400)
        self.assertGreaterEqual(fit["coverage"], 0.95)
        self.assertTrue(0.2 <= fit["rho"] <= 1.0, fit)
        # the next smaller rho of the grid does not reach the target: the narrowest one was taken
        used = rows[:400]
        err = np.abs([r["drf_error_combined"] for r in used])
        s_i, s_p, w_p = (np.array([r[k] for r in used]) for k in ("ci_integral_total", "ci_patlak_total",
                                                                   "ci_combined_weight_patlak"))
        rho = fit["rho"] - 0.05
        s_c = np.sqrt((1 - w_p) ** 2 * s_i**2 + w_p**2 * s_p**2 + 2 * rho * (1 - w_p) * w_p * s_i * s_p)
        self.assertLess(float(np.mean(err <= Z95 * s_c)), 0.95)

    def test_rho_for_a_new_method_calibration(self):
        # rows made with one calibration, refitted for another: the fit recomputes the totals, weights and combined
        # error from the components, as if the rows had been made with the new constants
        rng = np.random.default_rng(6)
        new = {"integral": {"c_seg": 0.0, "c_bg": 1.0, "c_var": 0.3, "s_floor": 0.5},
               "patlak": {"c_seg": 0.0, "c_bg": 0.5, "c_var": 0.3, "s_floor": 1.5}}
        made, stale = [], []
        for _ in range(300):
            comp = {"noise": float(rng.uniform(0.2, 2)), "bg": float(rng.uniform(0.2, 4)),
                    "variants": float(rng.uniform(0, 6))}
            row = {f"ci_{m}_{k}": v for m in ("integral", "patlak") for k, v in comp.items()}
            s = {m: interval_sigmas(comp, new[m])[1] for m in ("integral", "patlak")}
            e = {m: float(rng.normal(0, 1.1 * s[m])) for m in ("integral", "patlak")}
            w = inverse_variance_weights(s)
            row.update({"drf_error_integral": e["integral"], "drf_error_patlak": e["patlak"]})
            made.append({**row, "drf_error_combined": w["integral"] * e["integral"] + w["patlak"] * e["patlak"],
                         "ci_integral_total": s["integral"], "ci_patlak_total": s["patlak"],
                         "ci_combined_weight_patlak": w["patlak"]})
            stale.append({**row, "drf_error_combined": 0.0, "ci_integral_total": 0.01, "ci_patlak_total": 0.01,
                          "ci_combined_weight_patlak": 0.5})
        direct = fit_combined_calibration(made)
        self.assertEqual(fit_combined_calibration(stale, calibration=new), direct)
        self.assertNotEqual(fit_combined_calibration(stale)["median_width"], direct["median_width"])

    def test_no_rows_and_unreachable(self):
        with self.assertRaisesRegex(ValueError, "no row"):
            fit_combined_calibration([])
        rows = [{"drf_error_combined": 30.0, "ci_integral_total": 1.0, "ci_patlak_total": 1.0,
                 "ci_combined_weight_patlak": 0.5}] * 10
        with self.assertRaisesRegex(ValueError, "no rho"):
            fit_combined_calibration(rows)


class TestIntervalValidationColumns(unittest.TestCase):
    @staticmethod
    def report(ci_combined, w_p=0.3):
        return {"drf_percent": {"integral": {"left": 50.0, "left_ci95": [45.0, 55.0]},
                                "patlak": {"left": 52.0, "left_ci95": [44.0, 60.0]},
                                "combined": {"left": 50.6, "left_ci95": ci_combined,
                                             "weights": {"integral": 1 - w_p, "patlak": w_p}}},
                "drf_interval": {"sigma_points": {m: {"noise": 0.5, "total": t} for m, t in (("integral", 2.5),
                                                                                          ("patlak", 4.0))}},
                "kidneys": {s: {"found": True} for s in ("left", "right")}}

    def test_row_summary_and_table(self):
        rows = []
        for truth, ci, path in ((48.0, [46.0, 54.0], "normal"), (30.0, [46.0, 54.0], "hydronephrosis")):
            row = {"pathology_left": "normal", "pathology_right": path, "error": ""}
            row.update(interval_row(self.report(ci), truth))
            rows.append(row)
        self.assertEqual((rows[0]["ci_combined_covered"], rows[1]["ci_combined_covered"]), (1, 0))
        self.assertEqual((rows[0]["ci_combined_low"], rows[0]["ci_combined_high"], rows[0]["ci_combined_width"]),
                         (46.0, 54.0, 8.0))
        self.assertEqual((rows[0]["ci_integral_total"], rows[0]["ci_patlak_total"]), (2.5, 4.0))
        self.assertAlmostEqual(rows[0]["ci_combined_weight_patlak"], 0.3)
        s = interval_summary(rows)
        self.assertEqual(s["combined"]["all"], {"covered": 1, "studies": 2, "coverage": 0.5, "median_width": 8.0})
        self.assertIn("combined (of record)", interval_markdown_table({"model": s}))
        self.assertIn("| model | hydronephrosis | 0 / 1 (0 %) | 10.0 | 0 / 1 (0 %) | 16.0 | 0 / 1 (0 %) | 8.0 |",
                      interval_markdown_table({"model": s}))

    def test_a_report_without_combined_keeps_the_old_columns(self):
        rep = self.report([46.0, 54.0])
        del rep["drf_percent"]["combined"]
        row = interval_row(rep, 48.0)
        self.assertFalse(any(k.startswith("ci_combined") for k in row))
        self.assertNotIn("combined", interval_summary([dict(row, error="")]))

    def test_constant_width_and_rank_correlation_against_the_errors(self):
        rows = []
        errors = [0.5, -1.0, 2.0, -4.0, 8.0]
        for k, err in enumerate(errors):  # each study's interval centred on the DRF, wider where the error is larger
            half = 1.0 + k
            row = {"pathology_left": "normal", "pathology_right": "normal", "error": "",
                   "drf_error_combined": err}
            row.update(interval_row(self.report([50.6 - half, 50.6 + half]), 50.6 - err))
            rows.append(row)
        summary = interval_summary(rows)
        cell = summary["combined"]["normal"]
        self.assertEqual(cell["constant_width_95"], 14.4)  # twice the 95th percentile of |0.5, 1, 2, 4, 8|
        self.assertEqual(cell["width_error_spearman"], 1.0)
        self.assertEqual(cell["median_width"], 6.0)
        self.assertIn("| model | normal | 4 / 5 (80 %) | 10.0 | 4 / 5 (80 %) | 16.0 | 4 / 5 (80 %) | 6.0 | 14.4 "
                      "| 1.00 |", interval_markdown_table({"model": summary}))
        rows[0]["drf_error_combined"], rows[4]["drf_error_combined"] = 8.0, 0.5  # the widest interval now the best
        self.assertLess(interval_summary(rows)["combined"]["normal"]["width_error_spearman"], 1.0)
        # rows without the error (a report's own row) keep the coverage cell as it was
        for row in rows:
            del row["drf_error_combined"]
        self.assertNotIn("constant_width_95", interval_summary(rows)["combined"]["normal"])


@unittest.skipUnless(HAVE_SIMULATOR, "scripts.simulation not available")
class TestReportCarriesTheCombinedDRF(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.tmp = Path(tempfile.mkdtemp(prefix="drf_combined_"))
        cls.sim = simulated("normal")
        cls.result = analyse(cls.sim)

    @classmethod
    def tearDownClass(cls) -> None:
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_report_json_and_png_table(self):
        from matplotlib.axes import Axes

        from scripts.clinical.report import write_report

        tables = []
        real_table = Axes.table

        def capture(ax, *args, _tables=tables, _table=real_table, **kwargs):
            _tables.append(kwargs.get("cellText"))
            return _table(ax, *args, **kwargs)

        with mock.patch.object(Axes, "table", autospec=True, side_effect=capture):
            write_report(self.result, self.tmp / "normal")
        rep = json.loads((self.tmp / "normal" / "report.json").read_text())
        d = rep["drf_percent"]
        c = d["combined"]
        self.assertEqual(set(c), {"left", "right", "left_ci95", "right_ci95", "weights"})
        self.assertAlmostEqual(c["left"] + c["right"], 100.0, places=6)
        lo, hi = sorted((d["integral"]["left"], d["patlak"]["left"]))
        self.assertTrue(lo - 0.01 <= c["left"] <= hi + 0.01, (c, d))
        self.assertTrue(0 < c["weights"]["patlak"] < 1)
        self.assertLessEqual(c["left_ci95"][0], c["left"])
        self.assertLessEqual(c["left"], c["left_ci95"][1])
        # never wider than the wider method's interval (s_c <= w_i s_i + w_p s_p for rho <= 1)
        self.assertLessEqual(c["left_ci95"][1] - c["left_ci95"][0],
                             max(d[m]["left_ci95"][1] - d[m]["left_ci95"][0] for m in ("integral", "patlak")))
        # the methods are still reported, with their intervals
        for m in ("integral", "patlak"):
            self.assertEqual(set(d[m]), {"left", "right", "left_ci95", "right_ci95"})
        first = tables[0][0]
        self.assertTrue(first[0].startswith("Split function of record, combined"), first)
        self.assertEqual(first[1].rstrip(" !?"), drf_text(c, "left"))
        self.assertEqual(first[2].rstrip(" !?"), drf_text(c, "right"))
        self.assertTrue(tables[0][1][0].startswith("Split function, integral"))

    def test_one_kidney_study(self):
        mask = np.where(self.sim.parenchyma == 2, 0, self.sim.parenchyma)
        c = analyse(self.sim, mask=mask).report["drf_percent"]["combined"]
        self.assertEqual(c, {"left": 100.0, "right": 0.0, "left_ci95": [100.0, 100.0], "right_ci95": [0.0, 0.0],
                             "weights": {"integral": 1.0, "patlak": 0.0}})

    def test_summary_line_and_cohort_row(self):
        from scripts.clinical.cohort import COHORT_COLUMNS, cohort_row
        from scripts.renal_function import main

        folder = simulate(self.tmp / "studies", "s")
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            rc = main([str(folder / "study.dcm"), "--out", str(self.tmp / "cli"), "--mask",
                       str(folder / "parenchyma.png")])
        self.assertEqual(rc, 0)
        rep = json.loads((self.tmp / "cli" / "report.json").read_text())
        d = rep["drf_percent"]
        line = out.getvalue().splitlines()[0]
        self.assertTrue(line.startswith(f"DRF (combined, of record) left {d['combined']['left']} % / right "
                                        f"{d['combined']['right']} %; integral {d['integral']['left']} / "
                                        f"{d['integral']['right']}, Patlak {d['patlak']['left']} / "
                                        f"{d['patlak']['right']}; report: "), line)
        row = cohort_row("s", folder / "study.dcm", rep)
        self.assertEqual((row["drf_combined_left"], row["drf_combined_right"]),
                         (d["combined"]["left"], d["combined"]["right"]))
        self.assertLess(COHORT_COLUMNS.index("drf_combined_left"), COHORT_COLUMNS.index("drf_integral_left"))


@unittest.skipUnless(HAVE_SIMULATOR, "scripts.simulation not available")
class TestValidateCarriesTheCombinedDRF(unittest.TestCase):
    def test_per_study_row_and_summary(self):
        import csv

        from scripts.validate_renal_function import main

        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            for i, pathology in enumerate(("normal", "absent")):
                simulate(tmp / "studies", f"sim_{i:03d}", i, pathology)
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                rc = main(["--studies", str(tmp / "studies"), "--out", str(tmp / "res")])
            self.assertEqual(rc, 0)
            with open(tmp / "res" / "per_study.csv", newline="") as fh:
                rows = list(csv.DictReader(fh))
            meta = json.loads((tmp / "res" / "summary.json").read_text())
        for r in rows:
            for k in ("drf_left_combined", "drf_error_combined", "ci_combined_low", "ci_combined_high",
                      "ci_combined_width", "ci_combined_covered", "drf_left_integral", "ci_integral_covered"):
                self.assertNotEqual(r[k], "", k)
            self.assertAlmostEqual(float(r["drf_error_combined"]),
                                   float(r["drf_left_combined"]) - float(r["truth_drf_left"]), places=2)
        one = next(r for r in rows if r["study_id"] == "sim_001" and r["mask"] == "gt_parenchyma")
        self.assertEqual(float(one["drf_left_combined"]), float(one["drf_left_integral"]))  # one kidney: 100/0
        s = meta["summary"]["gt_parenchyma"]
        self.assertEqual(s["drf_combined_all"]["n"], 2)
        self.assertTrue(set(s["drf_combined_all"]) >= {"median", "p90", "max"})
        self.assertIn("drf_integral_all", s)  # the existing keys stay
        self.assertEqual(meta["drf_interval"]["gt_parenchyma"]["combined"]["all"]["studies"], 2)
        self.assertEqual(meta["qc_confusion_combined"]["gt_parenchyma"]["drf_error"], "drf_error_combined")
        self.assertEqual(meta["qc_confusion"]["gt_parenchyma"]["drf_error"], "drf_error_integral")
        self.assertIn("qc_confusion_mask_codes_combined", meta)
        text = out.getvalue()
        self.assertIn("DRF combined (of record)", text)
        self.assertIn("Segmentation QC against the combined DRF's error", text)


if __name__ == "__main__":
    unittest.main()
