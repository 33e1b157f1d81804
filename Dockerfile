# The project's worker, for the production stack (docker-compose.yml).
FROM python:3.11-slim
WORKDIR /app
COPY . .
# The same install as scripts/run.sh.
RUN pip install --upgrade pip && pip install -e . && useradd --create-home worker \
    && mkdir -p /app/outbox /app/reports && chown worker /app/outbox /app/reports
USER worker
CMD ["python", "worker.py"]
