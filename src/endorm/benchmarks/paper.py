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

# Table 2 (DSP cross-domain, %): reward prompt (row) x test domain (column); every value is k/2644.
TABLE2 = {
    "academy": {"academy": 76.89, "business": 67.17, "literature": 57.45, "entertainment": 52.57},
    "business": {"academy": 65.09, "business": 69.21, "literature": 51.44, "entertainment": 51.17},
    "literature": {"academy": 32.00, "business": 32.94, "literature": 62.97, "entertainment": 36.12},
    "entertainment": {"academy": 30.41, "business": 38.65, "literature": 38.69, "entertainment": 72.09},
}

# Figure 1 (Multifaceted-Bench accuracy, %): source -> method -> value; "Average" is sample-weighted.
FIGURE1 = {
    "Nectar": {"genrm-pointwise": 33.51, "generative-verifier": 42.62, "genrm-pairwise": 55.09, "endorm": 58.25},
    "OpenHermes Preferences": {"genrm-pointwise": 34.71, "generative-verifier": 49.86, "genrm-pairwise": 57.62,
                               "endorm": 59.86},
    "UltraFeedback": {"genrm-pointwise": 32.89, "generative-verifier": 40.98, "genrm-pairwise": 54.71,
                      "endorm": 54.97},
    "Chatbot Arena Conversations": {"genrm-pointwise": 35.95, "generative-verifier": 46.01, "genrm-pairwise": 56.34,
                                    "endorm": 63.19},
    "Domain-Specific Preference": {"genrm-pointwise": 47.09, "generative-verifier": 48.26, "genrm-pairwise": 57.66,
                                   "endorm": 62.21},
    "Average": {"genrm-pointwise": 34.41, "generative-verifier": 47.70, "genrm-pairwise": 56.88, "endorm": 59.32},
}

# Table 3 (zero-shot accuracy, %): Qwen2.5-Math-7B before and after RL on its own endogenous reward.
PAPER_MODEL_TABLE3 = "Qwen2.5-Math-7B"
TABLE3_COLUMNS = ("aime24", "amc23", "math500", "minerva_math", "olympiadbench")
TABLE3 = {
    "base": {"aime24": 19.0, "amc23": 42.3, "math500": 63.0, "minerva_math": 12.1, "olympiadbench": 28.4,
             "avg": 33.0},
    "rl": {"aime24": 20.4, "amc23": 49.4, "math500": 67.4, "minerva_math": 22.8, "olympiadbench": 34.2,
           "avg": 38.8},
}
