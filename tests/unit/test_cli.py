"""CLI contract: output table, exit codes, one-line errors naming the record, no partial files."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pytest

from ketasim.cli import main

PK2 = ["--param", "CL=5", "--param", "V1=20", "--param", "Q=10", "--param", "V2=50"]


def _write(tmp_path: Path, text: str, name: str = "data.csv") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def _rows(path: Path) -> list[list[str]]:
    with path.open(newline="") as fh:
        return list(csv.reader(fh))


def _run(argv: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    code = main(argv, out=out)
    return code, out.getvalue()


GOOD = (
    "ID,TIME,AMT,RATE,EVID,CMT\n1,0,100,50,1,1\n1,1,0,0,0,1\n1,4,0,0,0,1\n"
    "2,0,50,0,1,1\n2,2,0,0,0,1\n"
)


def test_simulate_dataset_writes_one_row_per_record(tmp_path: Path) -> None:
    data = _write(tmp_path, GOOD)
    out = tmp_path / "out.csv"
    code, _ = _run(["simulate", "pk2", str(data), *PK2, "--out", str(out)])
    assert code == 0
    rows = _rows(out)
    assert rows[0] == [
        "ID", "TIME_h", "TAD_h", "EVID", "CMT", "drug", "CENTRAL_amount", "PERIPH1_amount"
    ]  # fmt: skip
    assert len(rows) == 6
    # CP is central amount over V1
    assert float(rows[2][5]) == pytest.approx(float(rows[2][6]) / 20.0, rel=1e-9)


def test_simulate_dataset_to_stdout(tmp_path: Path) -> None:
    code, text = _run(
        ["simulate", "pk1", str(_write(tmp_path, GOOD)), "--param", "CL=5", "--param", "V=20"]
    )
    assert code == 0
    lines = [x for x in text.splitlines() if not x.startswith("#")]
    assert lines[0] == "ID,TIME_h,TAD_h,EVID,CMT,drug,CENTRAL_amount"


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("ID,TIME,AMT,EVID\n1,0,-5,1\n", "record 1"),
        ("ID,TIME,AMT,EVID\n1,0,nan,1\n", "line 2"),
        ("ID,TIME,AMT,EVID\n1,0,,1\n", "line 2"),
        ("ID,TIME,AMT,EVID\n1,2,10,1\n1,1,0,0\n", "record 2"),
        ("ID,TIME,AMT,EVID,CMT\n1,0,10,1,7\n", "CMT=7"),
        ("ID,TIME,AMT,EVID,SS,II\n1,0,10,1,1,0\n", "II"),
        ("ID,TIME,AMT,EVID,RATE\n1,0,10,1,-2\n", "RATE=-2"),
        ("ID,TIME,AMT,EVID\n1,0,10\n", "line 2"),
        ("ID;TIME;AMT\n1;0;10\n", "header"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_no_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, needle: str
) -> None:
    data = _write(tmp_path, text)
    out = tmp_path / "out.csv"
    code, _ = _run(["simulate", "pk2", str(data), *PK2, "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and err[0].startswith("ketasim: error:")
    assert needle in err[0]
    assert not out.exists()
    assert not any(p.name.startswith(".out.csv") for p in tmp_path.iterdir())


def test_unit_that_does_not_fit_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = _run(["simulate", "herd_2007", "--dose", "0.5 L", "--weight", "20 kg"])
    assert code == 2
    assert "0.5 L" in capsys.readouterr().err


def test_dose_without_unit_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = _run(["simulate", "herd_2007", "--dose", "35", "--weight", "20 kg"])
    assert code == 2
    assert "unit" in capsys.readouterr().err


def test_unknown_model_lists_available(capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = _run(["simulate", "nosuchmodel", "--dose", "1 mg"])
    assert code == 2
    assert "herd_2007" in capsys.readouterr().err


def test_unsupported_route_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = _run(
        ["simulate", "herd_2007", "--dose", "1 mg/kg", "--route", "oral", "--weight", "20 kg"]
    )
    assert code == 2
    assert "does not support route 'oral'" in capsys.readouterr().err


def test_regimen_simulation_writes_analyte_columns(tmp_path: Path) -> None:
    out = tmp_path / "r.csv"
    code, text = _run(
        [
            "simulate",
            "simons_2022",
            "--dose",
            "20 mg",
            "--duration",
            "20 min",
            "--weight",
            "70 kg",
            "--until",
            "6 h",
            "--step",
            "10 min",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    assert "research and education" in text
    rows = _rows(out)
    assert rows[0] == [
        "ID",
        "TIME_h",
        "TAD_h",
        "s_ketamine_ng_mL",
        "s_norketamine_ng_mL",
        "s_hnk_ng_mL",
    ]
    assert len(rows) == 1 + 37


def test_molar_output_uses_molar_mass(tmp_path: Path) -> None:
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    base = [
        "simulate",
        "herd_2007",
        "--dose",
        "1 mg/kg",
        "--weight",
        "20 kg",
        "--until",
        "1 h",
        "--step",
        "30 min",
    ]
    assert _run([*base, "--out", str(a)])[0] == 0
    assert _run([*base, "--molar", "--out", str(b)])[0] == 0
    assert _rows(a)[0][3] == "ketamine_ng_mL"
    assert _rows(b)[0][3] == "ketamine_nmol_L"
    ng = float(_rows(a)[2][3])
    nm = float(_rows(b)[2][3])
    assert nm == pytest.approx(ng / 237.727 * 1000.0, rel=1e-4)


def test_weight_outside_model_range_warns(capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = _run(
        ["simulate", "herd_2007", "--dose", "1 mg/kg", "--weight", "150 kg", "--until", "1 h"]
    )
    assert code == 0
    assert "ValidityWarning" in capsys.readouterr().err


def test_absurd_dose_warns_loudly(capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = _run(
        ["simulate", "herd_2007", "--dose", "500 mg/kg", "--weight", "20 kg", "--until", "1 h"]
    )
    assert code == 0
    assert "PlausibilityWarning" in capsys.readouterr().err


def test_models_lists_library() -> None:
    code, text = _run(["models"])
    assert code == 0
    assert "simons_2022" in text and "doi:" in text


def test_model_show_prints_parameters_and_sources() -> None:
    code, text = _run(["model", "show", "herd_2007"])
    assert code == 0
    assert "10.1111/j.1460-9592.2006.02145.x" in text
    assert "TVCL" in text and "L/h" in text


def test_validate_prints_summary_line(tmp_path: Path) -> None:
    md = tmp_path / "v.md"
    code, text = _run(["validate", "herd_2007", "elkomy_2015", "--markdown", str(md)])
    assert text.strip().splitlines()[-1].startswith("validated: 2 models,")
    assert code == 0
    assert "| herd_2007 |" in md.read_text()


def test_demo_writes_csv_and_png(tmp_path: Path) -> None:
    code, text = _run(["demo", "--out-dir", str(tmp_path)])
    assert code == 0
    assert (tmp_path / "demo.csv").stat().st_size > 0
    assert (tmp_path / "demo.png").read_bytes()[:4] == b"\x89PNG"


def test_effects_prints_zones_with_sources(capsys: pytest.CaptureFixture[str]) -> None:
    code, text = _run(
        [
            "effects",
            "simons_2022",
            "--dose",
            "0.25 mg/kg",
            "--duration",
            "40 min",
            "--weight",
            "70 kg",
            "--until",
            "12 h",
        ]
    )
    assert code == 0
    assert "not safety limits" in text
    assert "Zanos P et al. 2018" in text
    # a venous-sampled zone applied to this arterial model is flagged
    assert "SamplingSiteWarning" in capsys.readouterr().err


POP = [
    "population",
    "herd_2007",
    "--dose",
    "1 mg/kg",
    "--duration",
    "2 min",
    "--weight",
    "30 kg",
    "--until",
    "4 h",
    "--step",
    "5 min",
    "--no-progress",
]


def test_population_writes_summaries_percentiles_and_plot(tmp_path: Path) -> None:
    out = tmp_path / "pop.csv"
    png = tmp_path / "pop.png"
    code, text = _run(
        [
            *POP,
            "--n",
            "64",
            "--seed",
            "3",
            "--target",
            "ketamine > 100 ng/mL for 30 min",
            "--out",
            str(out),
            "--plot",
            str(png),
        ]
    )
    assert code == 0
    assert "seed 3" in text and "attained by" in text
    rows = _rows(out)
    assert len(rows) == 65 and "ketamine_cmax_ng_mL" in rows[0]
    perc = _rows(tmp_path / "pop_percentiles.csv")
    assert perc[0] == [
        "TIME_h",
        "ketamine_p5_ng_mL",
        "ketamine_p50_ng_mL",
        "ketamine_p95_ng_mL",
    ]
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_population_same_seed_same_numbers(tmp_path: Path) -> None:
    a, b = tmp_path / "a.parquet", tmp_path / "b.parquet"
    assert _run([*POP, "--n", "40", "--seed", "9", "--out", str(a)])[0] == 0
    assert _run([*POP, "--n", "40", "--seed", "9", "--out", str(b)])[0] == 0
    import pyarrow.parquet as pq

    assert pq.read_table(a).equals(pq.read_table(b))


def test_population_bad_n_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = _run([*POP, "--n", "0"])
    assert code == 2
    assert "--n 0" in capsys.readouterr().err


def test_population_unreachable_scheduler_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = _run(
        [*POP, "--n", "10", "--seed", "1", "--scheduler", "tcp://127.0.0.1:1", "--timeout", "2"]
    )
    assert code == 2
    assert "127.0.0.1:1" in capsys.readouterr().err


@pytest.mark.parametrize("unit", ["mg/L", "nmol/L", "ug/mL"])
def test_every_population_output_uses_the_one_unit_asked_issue_7(tmp_path: Path, unit: str) -> None:
    import pyarrow.parquet as pq

    from ketasim.units import format_unit_suffix

    sfx = format_unit_suffix(unit)
    out = tmp_path / "pop.parquet"
    png = tmp_path / "pop.png"
    args = [*POP, "--n", "16", "--seed", "1", "--unit", unit, "--out", str(out), "--plot", str(png)]
    code, text = _run(args)
    assert code == 0
    console = [x for x in text.splitlines() if x.startswith("ketamine ")]
    assert console and all(x.endswith(unit) or x.endswith(f"{unit}*h") or x.endswith(" h")
                           for x in console)  # fmt: skip
    table = pq.read_table(out)
    assert f"ketamine_cmax_{sfx}" in table.column_names
    assert table.schema.metadata[b"ketasim.conc_unit"] == unit.encode()
    perc = _rows(tmp_path / "pop_percentiles.csv")
    assert all(c.endswith(sfx) for c in perc[0][1:])
    # the same run in ng/mL: values scale by the unit factor
    ref = tmp_path / "ref.parquet"
    assert _run([*POP, "--n", "16", "--seed", "1", "--out", str(ref)])[0] == 0
    from ketasim.units import get_conc_factor

    f = get_conc_factor("ketamine", unit) / get_conc_factor("ketamine", "ng/mL")
    a = table.column(f"ketamine_cmax_{sfx}").to_numpy()
    b = pq.read_table(ref).column("ketamine_cmax_ng_mL").to_numpy()
    np.testing.assert_allclose(a, b * f, rtol=1e-12)


def test_simulate_csv_console_and_plot_use_the_unit_asked_issue_7(tmp_path: Path) -> None:
    out = tmp_path / "s.csv"
    base = ["simulate", "herd_2007", "--dose", "1 mg/kg", "--weight", "20 kg", "--until", "1 h"]
    code, text = _run([*base, "--unit", "umol/L", "--out", str(out)])
    assert code == 0
    assert "ketamine_umol_L" in _rows(out)[0]
    assert "(umol/L)" in text or "umol/L" in text
    code, _ = _run([*base, "--unit", "furlongs", "--out", str(tmp_path / "x.csv")])
    assert code == 2 and not (tmp_path / "x.csv").exists()


def test_patients_table_with_n_equal_to_its_rows_uses_each_patient_once_issue_12(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import pyarrow.parquet as pq

    patients = tmp_path / "p.csv"
    patients.write_text("WT\n15\n20\n30\n45\n")
    out = tmp_path / "pop.parquet"
    base = [a for a in POP if a not in ("--weight", "30 kg")]
    code, _ = _run(
        [*base, "--n", "4", "--seed", "1", "--patients", str(patients), "--out", str(out)]
    )
    assert code == 0
    assert list(pq.read_table(out).column("WT").to_pylist()) == [15.0, 20.0, 30.0, 45.0]
    assert "with replacement" not in capsys.readouterr().err
    code, _ = _run([*base, "--n", "6", "--seed", "1", "--patients", str(patients)])
    assert code == 0 and "drawn with replacement" in capsys.readouterr().err


def test_plot_labels_name_the_unit_asked_issue_7(tmp_path: Path, monkeypatch) -> None:
    import matplotlib.figure

    labels: list[str] = []
    original = matplotlib.figure.Figure.savefig

    def spy(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        labels.extend(ax.get_ylabel() for ax in self.axes)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", spy)
    png = tmp_path / "s.png"
    code, _ = _run(
        ["simulate", "herd_2007", "--dose", "1 mg/kg", "--weight", "20 kg", "--until", "2 h",
         "--unit", "nmol/L", "--plot", str(png)]
    )  # fmt: skip
    assert code == 0 and png.read_bytes()[:4] == b"\x89PNG"
    assert labels and all("nmol/L" in x for x in labels)


def test_each_command_is_registered_by_the_module_the_cli_loads_for_it_issue_8() -> None:
    import argparse

    from ketasim.cli import _COMMAND_MODULES, build_parser

    def commands(parser: argparse.ArgumentParser) -> set[str]:
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        return set(sub.choices)

    every = commands(build_parser())
    assert every == set(_COMMAND_MODULES)
    for command, module in _COMMAND_MODULES.items():
        assert command in commands(build_parser(module)), command
