"""The paper's reported numbers (arXiv 2506.23235), kept apart from ours and labelled as the paper's wherever shown.

Source: the paper's Table 1 (RM-Bench, Qwen2.5-7B-Instruct). Trained-RM rows are the RM-Bench paper's published
numbers as reprinted there. Known oddities (see docs): EndoRM's Avg (70.2) is not the mean of its domain columns
(71.45); GenRM-Pointwise's Hard (57.7) is probably a typo.
"""

PAPER_MODEL_TABLE1 = "Qwen2.5-7B-Instruct"

# method -> {column: value}; columns chat, math, code, safety, easy, normal, hard, avg
TABLE1 = {
    "Skywork-Reward-Llama-3.1-8B (trained)": (69.5, 60.6, 54.5, 95.7, 89.0, 74.7, 46.6, 70.1),
    "Nemotron-340B-Reward (trained)": (71.2, 59.8, 59.4, 87.5, 81.0, 71.4, 56.1, 69.5),
    "GRM-llama3-8B-distill (trained)": (62.4, 62.1, 56.9, 88.1, 82.2, 71.5, 48.4, 67.4),
    "tulu-2-dpo-13b (trained, DPO)": (66.4, 51.4, 51.8, 85.4, 86.9, 66.7, 37.7, 63.8),
    "generative-verifier": (60.1, 58.5, 36.8, 86.4, 70.7, 65.3, 57.8, 64.6),
    "genrm-pairwise": (55.1, 50.8, 50.6, 80.4, 70.3, 62.3, 51.7, 61.4),
    "genrm-pointwise": (42.7, 29.8, 15.5, 75.5, 57.7, 43.8, 57.7, 44.2),
    "endorm": (84.7, 56.7, 53.2, 91.2, 86.9, 74.4, 49.4, 70.2),
}
TABLE1_COLUMNS = ("chat", "math", "code", "safety", "easy", "normal", "hard", "avg")


def table1(method: str) -> dict | None:
    values = TABLE1.get(method)
    return dict(zip(TABLE1_COLUMNS, values)) if values else None
