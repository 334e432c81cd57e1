# The kakor service image: `docker compose up` builds it (see docs/deploy.md).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY consent_service ./consent_service
# The migrations ship inside the package; [postgres] adds asyncpg.
RUN pip install '.[postgres]' \
    && useradd --system --home-dir /app --shell /usr/sbin/nologin kakor
USER kakor

EXPOSE 8000
CMD ["consent-service", "serve", "--host", "0.0.0.0", "--port", "8000"]
