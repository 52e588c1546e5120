"""eaflow: the day-to-day software of a plateforme départementale d'emploi accompagné."""
