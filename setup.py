"""The osum package: OSUM-style speech understanding language models on ESPnet."""

from setuptools import find_packages, setup

# Pinned to a set that resolves in one `pip install` on Python 3.11:
# espnet 202511 is the newest release for 3.11 and imports torchaudio at start-up;
# torchaudio 2.11 needs exactly torch 2.11.
install_requires = [
    "torch==2.11.0",
    "torchaudio==2.11.0",
    "espnet==202511",
    "transformers==5.24.0",
    "peft==0.21.2",
    "tokenizers==0.23.3",
    # LLM dirs whose tokenizer is only a sentencepiece model (Llama 2, Vicuna, Gemma)
    "sentencepiece==0.2.0",
    "safetensors",
    "kaldiio==2.18.1",
    "soundfile",
    # the synthesiser's audio transforms (sox.Transformer; Debian's sox does the work)
    "sox==1.5.0",
    "numpy",
    "PyYAML",
    "typeguard",
    "matplotlib",
    "tensorboard",
    "jiwer==4.0.0",
    "sacrebleu==2.6.0",
    "requests",
    # its English text normaliser is a scoring option; the tests check the frontend
    # and the encoder against its reference implementation
    "openai-whisper==20250625",
    # serving: osum.bin.serve (an OpenAI-style API, a demo page, Prometheus metrics)
    "fastapi==0.165.0",
    "uvicorn==0.55.0",
    "python-multipart==0.0.34",
    "prometheus-client==0.26.0",
]

extras_require = {
    "test": [
        "pytest==9.2.0",
        "pytest-xdist==3.8.0",
        "hypothesis==6.155.2",
        "ruff==0.17.6",
        # the server's tests call it with the official client and a real browser
        "openai==3.63.0",
        "selenium==4.51.0",
    ],
}

setup(
    name="osum",
    version="0.1.0",
    description="Training, decoding and scoring of OSUM-style speech understanding LLMs",
    packages=find_packages(include=["osum", "osum.*"]),
    package_data={"osum.serve": ["static/*.html"]},
    python_requires=">=3.11,<3.12",
    install_requires=install_requires,
    extras_require=extras_require,
)
