"""What the GUE benchmark tasks are: label meanings, species, length, negatives, sources and licence terms.

GUE (Genome Understanding Evaluation) is the benchmark released with DNABERT-2 (Zhou et al., ICLR 2024). Its tasks
ship as folders of ``train.csv``/``dev.csv``/``test.csv`` with integer labels, so the labels mean nothing by
themselves. :func:`gue_dataset` recognises a task from a GUE-style path (``.../GUE/prom/prom_core_tata``, or a folder
named like a task inside a ``GUE`` folder) and returns a plain JSON-able description; :func:`load_task` stores it as
``TaskData.dataset`` and names the classes from it when no names are given.

Only what the GUE release and its paper say, or what the files show, is recorded here; a detail that is not known
(e.g. which covid label is which variant) is left out rather than guessed.

Example:
    >>> gue_dataset("data/GUE/prom/prom_core_tata")["labels"][1]["name"]
    'promoter'
    >>> gue_dataset("data/my_task") is None
    True
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["GUE_CITATION", "GUE_TASKS", "GueTask", "find_gue_task", "gue_dataset"]

GUE_CITATION = """@inproceedings{zhou2024dnabert2,
  title={{DNABERT-2}: Efficient Foundation Model and Benchmark for Multi-Species Genome},
  author={Zhou, Zhihan and Ji, Yanrong and Li, Weijian and Dutta, Pratik and Davuluri, Ramana and Liu, Han},
  booktitle={International Conference on Learning Representations},
  year={2024}
}"""
GUE_PAPER = {"citation": "Zhou et al. (2024), DNABERT-2: Efficient Foundation Model and Benchmark for Multi-Species "
                         "Genome, ICLR 2024 (introduces GUE)",
             "url": "https://arxiv.org/abs/2306.15006"}
GUE_LICENSE = ("No licence is stated for the GUE data files themselves (they are distributed with the DNABERT-2 "
               "code); the terms of the original data sources apply.")

_EPDNEW = {"citation": "Dreos et al. (2013), EPD and EPDnew, high-quality promoter resources in the next-generation "
                       "sequencing era, Nucleic Acids Research",
           "url": "https://epd.expasy.org/epd/"}
_ENCODE = {"citation": "ENCODE Project Consortium (2012), An integrated encyclopedia of DNA elements in the human "
                       "genome, Nature",
           "url": "https://www.encodeproject.org/"}
_MOUSE_ENCODE = {"citation": "Mouse ENCODE Consortium (2012), An encyclopedia of mouse DNA elements (Mouse ENCODE), "
                             "Genome Biology",
                 "url": "https://www.encodeproject.org/"}
_SPLICEFINDER = {"citation": "Wang et al. (2019), SpliceFinder: ab initio prediction of splice sites using "
                             "convolutional neural network, BMC Bioinformatics",
                 "url": "https://pubmed.ncbi.nlm.nih.gov/31881982"}
_POKHOLOK = {"citation": "Pokholok et al. (2005), Genome-wide map of nucleosome acetylation and methylation in yeast, "
                         "Cell"}
_GISAID = {"citation": "GISAID EpiCoV database of SARS-CoV-2 genomes", "url": "https://gisaid.org/"}


@dataclass(frozen=True)
class GueTask:
    """One GUE task: where it lives in the release and what its data is.

    Example:
        >>> GUE_TASKS["prom/prom_core_tata"].length_bp
        70
    """

    group: str  # the folder inside GUE/ (prom, tf, mouse, splice, virus, EMP)
    name: str  # the task folder (prom_core_tata, 0, reconstructed, covid, H3K4me3)
    title: str
    description: str
    species: str
    length_bp: int
    labels: tuple[tuple[str, str], ...] | None  # (name, meaning) per label id; None when not documented
    negatives: str | None
    source: str
    references: tuple[dict[str, str], ...]
    license: str = GUE_LICENSE
    label_note: str | None = None

    @property
    def key(self) -> str:
        """``group/name`` as in the release, e.g. ``prom/prom_core_tata``."""
        return f"{self.group}/{self.name}"

    def to_dict(self) -> dict[str, Any]:
        """The description stored in a run's ``hubtune.json`` (``dataset``) and shown by its model card."""
        return {
            "benchmark": "GUE",
            "task": self.key,
            "title": self.title,
            "description": self.description,
            "species": self.species,
            "sequence_length_bp": self.length_bp,
            "labels": [{"id": i, "name": name, "meaning": meaning}
                       for i, (name, meaning) in enumerate(self.labels or ())],
            "label_note": self.label_note,
            "negatives": self.negatives,
            "source": self.source,
            "references": [dict(GUE_PAPER), *(dict(r) for r in self.references)],
            "license": self.license,
            "citation": GUE_CITATION,
        }


def _promoter_tasks() -> list[GueTask]:
    tasks = []
    windows = {
        "prom_300": ("Promoter detection", 300, "the 300 bp around a transcription start site (-249 to +50)"),
        "prom_core": ("Core promoter detection", 70, "the 70 bp core promoter around a transcription start site "
                                                     "(-34 to +35)"),
    }
    subsets = {
        "all": ("all promoters", "both of the constructions below: non-promoter genomic sequence for TATA promoters, "
                                 "and promoter sequence with a randomly substituted part for the others"),
        "tata": ("TATA-box promoters", "non-promoter sequences from the human genome (not derived from the "
                                              "positives)"),
        "notata": ("promoters without a TATA box", "promoter sequences with part of the sequence randomly substituted "
                                                   "(the construction of DeePromoter, Oubounyt et al. 2019), so "
                                                   "negatives share much of their sequence with real promoters"),
    }
    for prefix, (title, length, window) in windows.items():
        for subset, (what, negatives) in subsets.items():
            tasks.append(GueTask(
                group="prom", name=f"{prefix}_{subset}", title=f"{title}, {what}",
                description=f"Is the sequence a human promoter? Positives are {window}, from EPDnew; {what}.",
                species="Homo sapiens (human)", length_bp=length,
                labels=(("non-promoter", "not a promoter (constructed negative)"),
                        ("promoter", f"a human promoter from EPDnew ({what})")),
                negatives=negatives,
                source="EPDnew human promoters, assembled into GUE by Zhou et al. (2024)",
                references=(_EPDNEW,),
            ))
    return tasks


_TF_HUMAN = ("wgEncodeEH000552", "wgEncodeEH000606", "wgEncodeEH001546", "wgEncodeEH001776", "wgEncodeEH002829")
_TF_MOUSE = ("Ch12Nrf2Iggrab", "Ch12Znf384hpa004051Iggrab", "MelJundIggrab", "MelMafkDm2p5dStd", "MelNelfeIggrab")


def _tf_tasks() -> list[GueTask]:
    tasks = []
    for i, experiment in enumerate(_TF_HUMAN):
        tasks.append(GueTask(
            group="tf", name=str(i), title=f"Transcription factor binding site prediction, human, set {i}",
            description=f"Is the sequence a transcription-factor binding site? 101 bp around ChIP-seq peaks of one "
                        f"ENCODE experiment ({experiment}).",
            species="Homo sapiens (human)", length_bp=101,
            labels=(("not-bound", "not a binding site of the factor"),
                    ("bound", "a ChIP-seq binding site of the factor")),
            negatives=None,
            source=f"ENCODE ChIP-seq ({experiment}), assembled into GUE by Zhou et al. (2024)",
            references=(_ENCODE,),
        ))
    for i, experiment in enumerate(_TF_MOUSE):
        tasks.append(GueTask(
            group="mouse", name=str(i), title=f"Transcription factor binding site prediction, mouse, set {i}",
            description=f"Is the sequence a transcription-factor binding site? 101 bp around ChIP-seq peaks of one "
                        f"mouse ENCODE experiment ({experiment}).",
            species="Mus musculus (mouse)", length_bp=101,
            labels=(("not-bound", "a shuffled binding-site sequence"),
                    ("bound", "a ChIP-seq binding site of the factor")),
            negatives="binding-site sequences shuffled with their dinucleotide frequencies kept",
            source=f"Mouse ENCODE ChIP-seq ({experiment}), assembled into GUE by Zhou et al. (2024)",
            references=(_MOUSE_ENCODE,),
        ))
    return tasks


_EMP_MARKS = {
    "H3": "histone H3 occupancy",
    "H4": "histone H4 occupancy",
    "H3K9ac": "H3 lysine 9 acetylation",
    "H3K14ac": "H3 lysine 14 acetylation",
    "H4ac": "H4 acetylation",
    "H3K4me1": "H3 lysine 4 mono-methylation",
    "H3K4me2": "H3 lysine 4 di-methylation",
    "H3K4me3": "H3 lysine 4 tri-methylation",
    "H3K36me3": "H3 lysine 36 tri-methylation",
    "H3K79me3": "H3 lysine 79 tri-methylation",
}


def _emp_tasks() -> list[GueTask]:
    return [
        GueTask(
            group="EMP", name=mark, title=f"Epigenetic mark prediction, yeast, {mark}",
            description=f"Does the yeast DNA region carry {what}? 500 bp regions labelled from the genome-wide "
                        "ChIP-chip maps of Pokholok et al. (2005).",
            species="Saccharomyces cerevisiae (yeast)", length_bp=500,
            labels=((f"no-{mark}", f"a region without {what}"), (mark, f"a region with {what}")),
            negatives=f"yeast genome regions without {what}",
            source="Yeast histone ChIP-chip maps (Pokholok et al. 2005), assembled into GUE by Zhou et al. (2024)",
            references=(_POKHOLOK,),
        )
        for mark, what in _EMP_MARKS.items()
    ]


def _other_tasks() -> list[GueTask]:
    return [
        GueTask(
            group="splice", name="reconstructed", title="Splice site prediction, human",
            description="Is the centre of the sequence a splice acceptor, a splice donor or neither? A rebuilt "
                        "version of the splice-site data used by DNABERT, which comes from SpliceFinder.",
            species="Homo sapiens (human)", length_bp=400,
            labels=(("acceptor", "a splice acceptor site at the centre (intron ends with AG)"),
                    ("donor", "a splice donor site at the centre (intron starts with GT)"),
                    ("non-splice-site", "no splice site at the centre")),
            negatives="human sequences without a splice site at the centre (class 2)",
            source="SpliceFinder splice-site data (Wang et al. 2019) as used by DNABERT, rebuilt for GUE by Zhou "
                   "et al. (2024)",
            references=(_SPLICEFINDER,),
        ),
        GueTask(
            group="virus", name="covid", title="Covid variant classification",
            description="Which SARS-CoV-2 variant does a 1000 bp genome fragment come from? Nine variants.",
            species="SARS-CoV-2", length_bp=1000,
            labels=None,
            label_note="Labels 0-8 are nine SARS-CoV-2 variants; the GUE release does not document which id is "
                       "which variant, so the labels keep their numbers.",
            negatives=None,
            source="SARS-CoV-2 genomes from GISAID, assembled into GUE by Zhou et al. (2024)",
            references=(_GISAID,),
            license=GUE_LICENSE + " SARS-CoV-2 genomes from GISAID are subject to the GISAID terms of use, which "
                                  "require acknowledging the laboratories that generated and shared them.",
        ),
    ]


GUE_TASKS: dict[str, GueTask] = {t.key: t for t in _promoter_tasks() + _tf_tasks() + _emp_tasks() + _other_tasks()}



def _flat_names() -> dict[str, str]:
    """Folder names of flattened copies of GUE (one level: ``GUE/<name>``) -> task key."""
    names: dict[str, str] = {}
    for task in GUE_TASKS.values():
        low = task.name.lower()
        if task.group == "prom":
            aliases = [low]
        elif task.group == "EMP":
            aliases = [low, f"emp_{low}", f"emp-{low}"]
        elif task.group in ("tf", "mouse"):
            aliases = [f"{task.group}{low}", f"{task.group}_{low}", f"{task.group}-{low}"]
            aliases += [f"human{low}"] if task.group == "tf" else []
        else:
            aliases = [low, f"{task.group}_{low}", f"{task.group}-{low}"]
        names.update(dict.fromkeys(aliases, task.key))
    return names


_FLAT_NAMES = _flat_names()
_GROUP_ALIASES = {"prom": "prom", "promoter": "prom", "tf": "tf", "tf_human": "tf", "human": "tf", "mouse": "mouse",
                  "tf_mouse": "mouse", "splice": "splice", "virus": "virus", "covid": "virus", "emp": "EMP"}
_GUE_FOLDER = re.compile(r"gue([_\-. ].*)?", re.IGNORECASE)
_SPLIT_STEMS = ("train", "dev", "test", "validation", "valid", "val")


def find_gue_task(path: str | Path) -> GueTask | None:
    """The GUE task a local path points at, or None when the path is not inside a ``GUE`` folder or names no task.

    Accepts the release layout (``GUE/prom/prom_core_tata``), a flattened copy (``GUE/prom_core_tata``,
    ``GUE/emp_H3``, ``GUE/tf0``) and a split file inside a task folder (``GUE/EMP/H3/dev.csv``).

    Example:
        >>> find_gue_task("/data/GUE/EMP/H3K4me3").key, find_gue_task("GUE/tf0").key
        ('EMP/H3K4me3', 'tf/0')
    """
    parts = list(Path(os.path.abspath(Path(path).expanduser())).parts)
    if parts and parts[-1].split(".")[0].lower() in _SPLIT_STEMS:
        parts = parts[:-1]  # a split file: the task is its folder
    parts = [p for p in parts if p not in ("", ".")]
    roots = [i for i, p in enumerate(parts) if _GUE_FOLDER.fullmatch(p)]
    if not roots:
        return None
    inside = parts[roots[-1] + 1:]
    if len(inside) == 2:
        group = _GROUP_ALIASES.get(inside[0].lower())
        by_name = {t.name.lower(): t for t in GUE_TASKS.values() if t.group == group}
        return by_name.get(inside[1].lower())
    if len(inside) == 1:
        key = _FLAT_NAMES.get(inside[0].lower())
        return GUE_TASKS[key] if key else None
    return None


def gue_dataset(path: str | Path) -> dict[str, Any] | None:
    """The JSON-able description of the GUE task at `path` (see :meth:`GueTask.to_dict`), or None.

    Example:
        >>> gue_dataset("GUE/splice/reconstructed")["species"]
        'Homo sapiens (human)'
    """
    task = find_gue_task(path)
    return task.to_dict() if task is not None else None
