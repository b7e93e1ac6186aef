FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 ONEHAND_VAR_DIR=/app/var
WORKDIR /app
COPY pyproject.toml ./
RUN pip install --upgrade pip && pip install .
COPY . .
RUN pip install --no-deps -e . \
 && DJANGO_SECRET_KEY=build-only DJANGO_DEBUG=0 python manage.py collectstatic --no-input
RUN useradd --create-home onehand && mkdir -p /app/var && chown -R onehand /app/var
USER onehand
EXPOSE 8000
CMD ["gunicorn", "onehand.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--timeout", "120", "--access-logfile", "-"]
