"""Prompts of the lab-assistant graph. The model only fills tool arguments (grammar-constrained);
answers are written from templates, because a 135M model's free text is not reliable."""

ARGUMENTS_PROMPT = (
    "You run machine-learning labs. Call the tool that does what the user asks, with arguments taken "
    "from the request. Corpora: legal (court opinions), alice (Alice in Wonderland), xquad_en, xquad_de "
    "(German), pubmedqa (biomedical)."
)

CAPABILITIES = (
    "I run the training labs. Examples of what I understand:\n"
    "- train a 2,000-token BPE on the legal opinions and compare it with GPT-4's tokenizer\n"
    "- train a 4-gram model on alice\n"
    "- pretrain a mini-GPT with alibi for 200 steps on alice and sample from it\n"
    "- status of job train_bpe-1a2b3c4d\n"
    "Corpora: legal, alice, xquad_en, xquad_de, pubmedqa."
)

PENDING_ANSWER = (
    "Job {job_id} is still {state} ({percent:.0f}%: {message}). It keeps running in the background; "
    "ask me \"status\" in this conversation to continue, or call job_status(\"{job_id}\")."
)

TOKENIZER_LABELS = {"ours-bpe": "our BPE", "cl100k_base": "GPT-4 (cl100k_base)", "o200k_base": "GPT-4o (o200k_base)",
                    "smollm2": "SmolLM2", "bert-wordpiece": "BERT WordPiece", "sentencepiece": "SentencePiece"}
