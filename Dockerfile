# The project's worker, codec server and staff console, for the production stack (docker-compose.yml).
FROM python:3.11-slim
WORKDIR /app
COPY . .
# The same install as scripts/run.sh: the locked, hash-checked dependencies, then the project itself.
RUN pip install --no-cache-dir --require-hashes -r requirements.lock && pip install --no-cache-dir --no-deps -e . \
    && useradd --create-home worker \
    && install -d -m 700 -o worker /app/outbox /app/reports /app/data
USER worker
CMD ["python", "worker.py"]
