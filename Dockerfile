# The hubtune Space as a Docker Space (or any container host): CPU inference, Gradio on port 7860.
#
#   docker build -t hubtune-space .
#   docker run --rm -p 7860:7860 -e HUBTUNE_SPACE_ADAPTERS=user/promoter-lora hubtune-space
#
# `hubtune space deploy --sdk docker` writes a Space's own Dockerfile instead (hubtune installed from a wheel in the
# Space repo, no checkout needed); this one builds from the checkout.
#
# Offline against a local hub on the host: add `--network host -e HF_ENDPOINT=http://127.0.0.1:8765
# -e HF_HUB_DISABLE_XET=1` (see space/README.md).
FROM python:3.11-slim

# Docker Spaces run the container as user 1000 with a writable home.
RUN useradd --create-home --uid 1000 user
USER user
ENV HOME=/home/user \
    PATH=/home/user/.local/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HOME=/home/user/.cache/huggingface \
    GRADIO_ANALYTICS_ENABLED=False \
    GRADIO_SERVER_NAME=0.0.0.0 \
    GRADIO_SERVER_PORT=7860 \
    HUBTUNE_NO_PROGRESS=1
WORKDIR /home/user/app

# The CPU wheel first (from the PyTorch CPU index), so installing hubtune keeps it instead of pulling CUDA wheels.
RUN pip install --user --index-url https://download.pytorch.org/whl/cpu torch==2.13.0

# Then the project with the space extra (gradio, gradio_client).
COPY --chown=user pyproject.toml README.md ./
COPY --chown=user hubtune ./hubtune
COPY --chown=user cards ./cards
RUN pip install --user ".[space]"

COPY --chown=user space ./space

EXPOSE 7860
CMD ["python", "space/app.py"]
